"""A minimal reader of TFLite flatbuffers: tensors (with quantization) and operators.

Why our own: the project must not depend on TensorFlow, and all we need from a ``.tflite`` is
its weights and a view of its graph, to port a network (YAMNet) to PyTorch and check that the
port does what the graph does. The file is a FlatBuffer (schema ``tensorflow/lite/schema/
schema.fbs``); this module decodes just the tables we use with ``struct``:

- a *table* starts with an int32 offset back to its *vtable*; the vtable holds uint16 sizes then
  one uint16 offset per field (0 = field absent, use the default);
- a field that refers to a table, vector or string holds a uint32 offset relative to itself;
- a *vector* is a uint32 length followed by its elements (a string is a vector of bytes).

Field numbers below are the schema's declaration order (``Model.buffers`` is field 4, ...).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

# TensorType enum -> numpy dtype (only the types a weights file plausibly holds).
_DTYPES: dict[int, np.dtype] = {
    0: np.dtype("<f4"), 1: np.dtype("<f2"), 2: np.dtype("<i4"), 3: np.dtype("u1"),
    4: np.dtype("<i8"), 6: np.dtype("?"), 7: np.dtype("<i2"), 9: np.dtype("i1"),
    10: np.dtype("<f8"),
}
_TYPE_NAMES = {0: "FLOAT32", 1: "FLOAT16", 2: "INT32", 3: "UINT8", 4: "INT64", 5: "STRING",
               6: "BOOL", 7: "INT16", 8: "COMPLEX64", 9: "INT8", 10: "FLOAT64"}

# BuiltinOperator enum, in order (schema.fbs); enough for audio CNNs, unknown codes print as ints.
_OPS = (
    "ADD AVERAGE_POOL_2D CONCATENATION CONV_2D DEPTHWISE_CONV_2D DEPTH_TO_SPACE DEQUANTIZE "
    "EMBEDDING_LOOKUP FLOOR FULLY_CONNECTED HASHTABLE_LOOKUP L2_NORMALIZATION L2_POOL_2D "
    "LOCAL_RESPONSE_NORMALIZATION LOGISTIC LSH_PROJECTION LSTM MAX_POOL_2D MUL RELU "
    "RELU_N1_TO_1 RELU6 RESHAPE RESIZE_BILINEAR RNN SOFTMAX SPACE_TO_DEPTH SVDF TANH "
    "CONCAT_EMBEDDINGS SKIP_GRAM CALL CUSTOM EMBEDDING_LOOKUP_SPARSE PAD "
    "UNIDIRECTIONAL_SEQUENCE_RNN GATHER BATCH_TO_SPACE_ND SPACE_TO_BATCH_ND TRANSPOSE MEAN SUB "
    "DIV SQUEEZE UNIDIRECTIONAL_SEQUENCE_LSTM STRIDED_SLICE BIDIRECTIONAL_SEQUENCE_RNN EXP "
    "TOPK_V2 SPLIT LOG_SOFTMAX DELEGATE BIDIRECTIONAL_SEQUENCE_LSTM CAST PRELU MAXIMUM ARG_MAX "
    "MINIMUM LESS NEG PADV2 GREATER GREATER_EQUAL LESS_EQUAL SELECT SLICE SIN TRANSPOSE_CONV "
    "SPARSE_TO_DENSE TILE EXPAND_DIMS EQUAL NOT_EQUAL LOG SUM SQRT RSQRT SHAPE POW ARG_MIN "
    "FAKE_QUANT REDUCE_PROD REDUCE_MAX PACK LOGICAL_OR ONE_HOT LOGICAL_AND LOGICAL_NOT UNPACK "
    "REDUCE_MIN FLOOR_DIV REDUCE_ANY SQUARE ZEROS_LIKE FILL FLOOR_MOD RANGE "
    "RESIZE_NEAREST_NEIGHBOR LEAKY_RELU SQUARED_DIFFERENCE MIRROR_PAD ABS SPLIT_V UNIQUE CEIL "
    "REVERSE_V2 ADD_N GATHER_ND COS WHERE RANK ELU REVERSE_SEQUENCE MATRIX_DIAG QUANTIZE "
    "MATRIX_SET_DIAG ROUND HARD_SWISH IF WHILE NON_MAX_SUPPRESSION_V4 NON_MAX_SUPPRESSION_V5 "
    "SCATTER_ND SELECT_V2 DENSIFY SEGMENT_SUM BATCH_MATMUL PLACEHOLDER_FOR_GREATER_OP_CODES "
    "CUMSUM CALL_ONCE BROADCAST_TO RFFT2D CONV_3D IMAG REAL COMPLEX_ABS"
).split()


class _Table:
    """One FlatBuffer table at ``pos`` in ``buf``; fields are read lazily by number."""

    def __init__(self, buf: bytes, pos: int) -> None:
        self.buf, self.pos = buf, pos
        vtable = pos - struct.unpack_from("<i", buf, pos)[0]
        vt_size = struct.unpack_from("<H", buf, vtable)[0]
        n = (vt_size - 4) // 2
        self._offsets = struct.unpack_from(f"<{n}H", buf, vtable + 4)

    def _field(self, i: int) -> int | None:
        """Absolute position of field ``i``, or None when it is absent (default value)."""
        if i >= len(self._offsets) or self._offsets[i] == 0:
            return None
        return self.pos + self._offsets[i]

    def scalar(self, i: int, fmt: str, default: int | float = 0) -> int | float:
        at = self._field(i)
        return default if at is None else struct.unpack_from("<" + fmt, self.buf, at)[0]

    def _deref(self, i: int) -> int | None:
        at = self._field(i)
        return None if at is None else at + struct.unpack_from("<I", self.buf, at)[0]

    def table(self, i: int) -> _Table | None:
        at = self._deref(i)
        return None if at is None else _Table(self.buf, at)

    def vector(self, i: int, dtype: str) -> np.ndarray:
        """A vector of scalars as a numpy array (a view onto the file's bytes, read-only)."""
        at = self._deref(i)
        if at is None:
            return np.zeros(0, dtype=dtype)
        n = struct.unpack_from("<I", self.buf, at)[0]
        return np.frombuffer(self.buf, dtype=dtype, count=n, offset=at + 4)

    def tables(self, i: int) -> list[_Table]:
        at = self._deref(i)
        if at is None:
            return []
        n = struct.unpack_from("<I", self.buf, at)[0]
        elems = (at + 4 + 4 * k for k in range(n))
        return [_Table(self.buf, e + struct.unpack_from("<I", self.buf, e)[0]) for e in elems]

    def string(self, i: int) -> str:
        return self.vector(i, "u1").tobytes().decode("utf-8")


@dataclass(frozen=True)
class TFLiteTensor:
    """A tensor of the graph; ``data`` is None for activations (no constant buffer)."""

    index: int
    name: str
    shape: tuple[int, ...]
    type: str
    data: np.ndarray | None
    scale: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    zero_point: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    quantized_dimension: int = 0

    def dequantize(self) -> np.ndarray:
        """Float32 values: ``(q - zero_point) * scale`` along ``quantized_dimension``."""
        if self.data is None:
            raise ValueError(f"tensor {self.name!r} has no constant data")
        if self.scale.size == 0:
            return self.data.astype(np.float32)
        bshape = [1] * self.data.ndim
        if self.scale.size > 1:
            bshape[self.quantized_dimension] = -1
        scale = self.scale.astype(np.float32).reshape(bshape)
        zero = self.zero_point.astype(np.float32).reshape(bshape) if self.zero_point.size else 0.0
        return ((self.data.astype(np.float32) - zero) * scale).astype(np.float32)


@dataclass(frozen=True)
class TFLiteOp:
    """One operator: its builtin name and the indices of its input/output tensors (-1 = none).

    ``options`` is the raw builtin-options table (e.g. Conv2DOptions); read a field with
    ``option(i, fmt)`` using the field number and struct format from schema.fbs.
    """

    opcode: str
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    options: _Table | None = None

    def option(self, i: int, fmt: str, default: int | float = 0) -> int | float:
        return default if self.options is None else self.options.scalar(i, fmt, default)


@dataclass
class TFLiteModel:
    """The first subgraph of a ``.tflite``: tensors by index and name, operators in run order."""

    tensors: list[TFLiteTensor]
    operators: list[TFLiteOp]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    description: str = ""

    def by_name(self) -> dict[str, TFLiteTensor]:
        return {t.name: t for t in self.tensors}

    def describe(self) -> str:
        """One line per operator, ``OP in[names] -> out[names]``, to see what the graph does."""
        def names(ids: tuple[int, ...]) -> str:
            return ", ".join(f"{self.tensors[i].name}{list(self.tensors[i].shape)}"
                             for i in ids if i >= 0)
        return "\n".join(f"{k:3d} {op.opcode}: {names(op.inputs)} -> {names(op.outputs)}"
                         for k, op in enumerate(self.operators))


def _opcode_name(code: _Table) -> str:
    # Old files use the int8 ``deprecated_builtin_code`` (field 0); newer ones also fill the
    # int32 ``builtin_code`` (field 3). The larger of the two is the real one.
    builtin = max(int(code.scalar(0, "b")), int(code.scalar(3, "i")))
    if builtin == 32:  # CUSTOM
        return "CUSTOM:" + code.string(1)
    return _OPS[builtin] if builtin < len(_OPS) else f"BUILTIN_{builtin}"


def read_tflite(path: str | Path) -> TFLiteModel:
    """Parse ``path``; raises ValueError naming the file if it is not a TFLite flatbuffer."""
    path = Path(path)
    buf = path.read_bytes()
    if len(buf) < 8 or buf[4:8] != b"TFL3":
        raise ValueError(f"{path}: not a TFLite flatbuffer (no 'TFL3' identifier)")
    model = _Table(buf, struct.unpack_from("<I", buf, 0)[0])
    codes = [_opcode_name(c) for c in model.tables(1)]
    buffers = model.tables(4)
    graph = model.tables(2)[0]

    tensors = []
    for idx, t in enumerate(graph.tables(0)):
        ttype = int(t.scalar(1, "b"))
        shape = tuple(int(s) for s in t.vector(0, "<i4"))
        data = None
        b = int(t.scalar(2, "I"))
        if 0 < b < len(buffers) and ttype in _DTYPES:
            raw = buffers[b].vector(0, "u1")
            if raw.size:
                data = np.frombuffer(raw.tobytes(), dtype=_DTYPES[ttype]).reshape(shape)
        q = t.table(4)
        quant = {}
        if q is not None:
            quant = dict(scale=q.vector(2, "<f4").copy(), zero_point=q.vector(3, "<i8").copy(),
                         quantized_dimension=int(q.scalar(6, "i")))
        tensors.append(TFLiteTensor(idx, t.string(3), shape, _TYPE_NAMES.get(ttype, str(ttype)),
                                    data, **quant))

    ops = [TFLiteOp(codes[int(o.scalar(0, "I"))], tuple(int(i) for i in o.vector(1, "<i4")),
                    tuple(int(i) for i in o.vector(2, "<i4")), o.table(4))
           for o in graph.tables(3)]
    return TFLiteModel(tensors, ops, tuple(int(i) for i in graph.vector(1, "<i4")),
                       tuple(int(i) for i in graph.vector(2, "<i4")), model.string(3))
