"""Sparse tensors: COO creation from indices/values, coalesce (duplicates summed), to_dense /
to_sparse, sparse @ dense (torch.sparse.mm, torch.mm), sparse sums and softmax, CSR/CSC
conversion, crow/col indices, CSR matvec, autograd through a sparse matmul, a sparse-adjacency
graph propagation step, and saving/loading a sparse tensor."""

import sys
import tempfile
from pathlib import Path

import torch


def main(workdir: Path) -> None:
    torch.manual_seed(0)
    indices = torch.tensor([[0, 1, 1, 2, 0], [2, 0, 0, 1, 2]])
    values = torch.tensor([3.0, 4.0, 1.0, 5.0, 1.0])
    coo = torch.sparse_coo_tensor(indices, values, size=(3, 3))
    assert coo.is_sparse and not coo.is_coalesced() and coo._nnz() == 5
    coalesced = coo.coalesce()
    assert coalesced.is_coalesced() and coalesced._nnz() == 3
    assert coalesced.indices().tolist() == [
        [0, 1, 2],
        [2, 0, 1],
    ] and coalesced.values().tolist() == [4.0, 5.0, 5.0]
    dense = coo.to_dense()
    assert dense.tolist() == [[0.0, 0.0, 4.0], [5.0, 0.0, 0.0], [0.0, 5.0, 0.0]]
    assert torch.equal(dense.to_sparse().to_dense(), dense)

    other = torch.randn(3, 4)
    assert torch.allclose(torch.sparse.mm(coalesced, other), dense @ other)
    assert torch.allclose(torch.mm(coalesced, other), dense @ other)
    assert torch.allclose(torch.sparse.sum(coalesced, dim=1).to_dense(), dense.sum(1))
    assert (coalesced * 2).to_dense().sum() == 28
    assert torch.allclose((coalesced + coalesced).to_dense(), 2 * dense)
    assert coalesced.t().to_dense().tolist() == dense.t().tolist()
    soft = torch.sparse.softmax(coalesced, dim=1).to_dense()
    assert torch.allclose(soft.sum(1), torch.ones(3))

    csr = dense.to_sparse_csr()
    assert csr.layout == torch.sparse_csr
    assert csr.crow_indices().tolist() == [0, 1, 2, 3] and csr.col_indices().tolist() == [2, 0, 1]
    vector = torch.randn(3)
    assert torch.allclose(csr @ vector, dense @ vector)
    assert torch.allclose(csr.matmul(other), dense @ other)
    assert torch.equal(csr.to_dense(), dense)
    assert torch.equal(coalesced.to_sparse_csr().to_dense(), dense)
    csc = dense.to_sparse_csc()
    assert csc.layout == torch.sparse_csc and torch.equal(csc.to_dense(), dense)
    built = torch.sparse_csr_tensor(
        torch.tensor([0, 2, 3]), torch.tensor([0, 2, 1]), torch.tensor([1.0, 2.0, 3.0]), size=(2, 3)
    )
    assert built.to_dense().tolist() == [[1.0, 0.0, 2.0], [0.0, 3.0, 0.0]]

    # autograd flows to the dense operand and to the sparse values
    weight = torch.randn(3, 4, requires_grad=True)
    sparse_param = torch.sparse_coo_tensor(
        coalesced.indices(), coalesced.values().clone(), (3, 3), requires_grad=True
    )
    torch.sparse.mm(sparse_param, weight).sum().backward()
    assert torch.allclose(weight.grad, dense.sum(0)[:, None].expand(3, 4))
    assert sparse_param.grad.is_sparse and sparse_param.grad.coalesce()._nnz() == 3

    # one normalised propagation step over a random sparse graph (GCN-style)
    n = 200
    edges = torch.randint(0, n, (2, 1000))
    edges = torch.cat([edges, edges.flip(0), torch.arange(n).repeat(2, 1)], dim=1)
    adjacency = torch.sparse_coo_tensor(edges, torch.ones(edges.shape[1]), (n, n)).coalesce()
    adjacency = torch.sparse_coo_tensor(adjacency.indices(), torch.ones(adjacency._nnz()), (n, n))
    degree = torch.sparse.sum(adjacency, dim=1).to_dense()
    features = torch.randn(n, 16)
    propagated = torch.sparse.mm(adjacency, features) / degree[:, None]
    assert torch.allclose(propagated, adjacency.to_dense() @ features / degree[:, None], atol=1e-5)
    density = adjacency._nnz() / n**2

    path = workdir / "sparse.pt"
    torch.save({"coo": coalesced, "csr": csr}, path)
    loaded = torch.load(path)
    assert loaded["coo"].is_sparse and torch.equal(loaded["coo"].to_dense(), dense)
    assert loaded["csr"].layout == torch.sparse_csr and torch.equal(loaded["csr"].to_dense(), dense)
    print(f"OK 22_sparse graph_density={density:.4f} nnz={adjacency._nnz()}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
