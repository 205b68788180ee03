"""Minimal safetensors reader/writer (no dependency on the `safetensors` package).

Format (https://github.com/huggingface/safetensors):
  * 8 bytes: little-endian u64 N, the length of the JSON header
  * N bytes: UTF-8 JSON header, padded with spaces so that 8 + N is a multiple of 8
      {name: {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]},
       "__metadata__": {str: str}}
    offsets are byte offsets relative to the start of the data area
  * the data area: raw little-endian tensor bytes, row-major (C order)

Tensors may be numpy arrays or torch tensors; `read` returns numpy arrays.
"""

import json
import struct
import sys

import numpy as np

# safetensors dtype name <-> numpy dtype (always little-endian on disk)
_DTYPES = {
    "F64": np.dtype("<f8"),
    "F32": np.dtype("<f4"),
    "F16": np.dtype("<f2"),
    "I64": np.dtype("<i8"),
    "I32": np.dtype("<i4"),
    "I16": np.dtype("<i2"),
    "I8": np.dtype("i1"),
    "U64": np.dtype("<u8"),
    "U32": np.dtype("<u4"),
    "U16": np.dtype("<u2"),
    "U8": np.dtype("u1"),
    "BOOL": np.dtype("?"),
}


def _dtype_name(arr):
    for name, dt in _DTYPES.items():
        if arr.dtype.kind == dt.kind and arr.dtype.itemsize == dt.itemsize:
            return name
    raise TypeError(f"unsupported dtype {arr.dtype}")


def _to_numpy(t):
    if isinstance(t, np.ndarray):
        return t
    # torch.Tensor (imported lazily so this module works without torch)
    if hasattr(t, "detach"):
        return t.detach().cpu().contiguous().numpy()
    return np.asarray(t)


def serialize(tensors, metadata=None):
    """Return the safetensors bytes for a {name: array} mapping.

    Tensors are stored in sorted-name order, as the reference implementation does.
    """
    header = {}
    chunks = []
    offset = 0
    for name in sorted(tensors):
        if name == "__metadata__":
            raise ValueError("'__metadata__' is reserved")
        arr = _to_numpy(tensors[name])
        dname = _dtype_name(arr)
        data = np.ascontiguousarray(arr, dtype=_DTYPES[dname]).tobytes()
        header[name] = {
            "dtype": dname,
            "shape": [int(s) for s in arr.shape],
            "data_offsets": [offset, offset + len(data)],
        }
        chunks.append(data)
        offset += len(data)
    if metadata:
        md = {}
        for k, v in metadata.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise TypeError("__metadata__ keys and values must be strings")
            md[k] = v
        header = {"__metadata__": md, **header}
    hbytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hbytes += b" " * ((-(8 + len(hbytes))) % 8)
    return struct.pack("<Q", len(hbytes)) + hbytes + b"".join(chunks)


def write(path, tensors, metadata=None):
    blob = serialize(tensors, metadata)
    with open(path, "wb") as f:
        f.write(blob)
    return len(blob)


def deserialize(blob):
    """Parse safetensors bytes; returns (tensors: {name: np.ndarray}, metadata: dict)."""
    if len(blob) < 8:
        raise ValueError("file too short")
    (n,) = struct.unpack("<Q", blob[:8])
    if 8 + n > len(blob):
        raise ValueError("header length exceeds file size")
    header = json.loads(blob[8 : 8 + n].decode("utf-8"))
    metadata = header.pop("__metadata__", {}) or {}
    data = memoryview(blob)[8 + n :]
    tensors = {}
    for name, info in header.items():
        dt = _DTYPES[info["dtype"]]
        begin, end = info["data_offsets"]
        shape = tuple(info["shape"])
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        if end - begin != count * dt.itemsize or end > len(data) or begin < 0:
            raise ValueError(f"bad data_offsets for {name}")
        tensors[name] = np.frombuffer(data[begin:end], dtype=dt).reshape(shape).copy()
    return tensors, metadata


def read(path):
    with open(path, "rb") as f:
        return deserialize(f.read())


if __name__ == "__main__":
    # `python3 safetensors_io.py FILE...` prints a summary of each file.
    for p in sys.argv[1:]:
        ts, md = read(p)
        print(p)
        for k, v in md.items():
            print(f"  meta {k} = {v}")
        for k, v in ts.items():
            print(f"  {k}: {_dtype_name(v)} {list(v.shape)}")
