"""The demo's workload: render a table and a progress line with rich, check the text."""

import sys

from rich.console import Console
from rich.table import Table


def main() -> None:
    console = Console(record=True, width=70, force_terminal=False)
    table = Table(title="what a workload uses")
    table.add_column("distribution")
    table.add_column("used")
    for name, used in (("rich", "yes"), ("pygments", "no"), ("markdown-it-py", "no")):
        table.add_row(name, used)
    console.print(table)
    text = console.export_text()
    assert "pygments" in text and "what a workload uses" in text, text
    print("OK demo workload")


if __name__ == "__main__":
    main()
    sys.exit(0)
