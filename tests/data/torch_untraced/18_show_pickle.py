"""torch.utils.show_pickle: dump the pickle inside a torch.save archive without executing it."""

import io
import zipfile

import torch
from torch.utils import show_pickle

torch.manual_seed(0)
buffer = io.BytesIO()
torch.save({"weights": torch.randn(2, 3), "step": 7}, buffer)
with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as archive:
    name = next(n for n in archive.namelist() if n.endswith("data.pkl"))
    payload = archive.read(name)
out = io.StringIO()
show_pickle.DumpUnpickler.dump(io.BytesIO(payload), out)
text = out.getvalue()
assert "'weights'" in text and "'step': 7" in text, text
assert "torch.FloatStorage" in text or "FloatStorage" in text, text
print("OK show_pickle")
