/**
 * One-node ONNX models written in code: just enough of the protobuf wire format (varints and length-delimited
 * fields) and of onnx.proto's ModelProto to describe a single operator, its graph inputs and its constant
 * initializers. Field numbers are those of onnx/onnx.proto3; nothing is generated.
 */

/** A float32 tensor in ONNX (= PyTorch) layout. */
export interface OnnxTensor {
  name: string;
  shape: readonly number[];
  data: Float32Array;
}

/** An attribute value: INT, FLOAT or INTS (the types the benchmarked ops need). */
export type OnnxAttribute = number | readonly number[] | { float: number };

/** A model of one operator: graph inputs are fed at run time, initializers are baked in. */
export interface OnnxNodeModel {
  opType: string;
  /** Graph inputs, in the operator's input order before the initializers. */
  inputs: readonly { name: string; shape: readonly number[] }[];
  /** Constant inputs (weights, bias), after the graph inputs in the operator's input order. */
  initializers?: readonly OnnxTensor[];
  output: { name: string; shape: readonly number[] };
  attributes?: Record<string, OnnxAttribute>;
  /** Default 17 (opset of ai.onnx). */
  opset?: number;
}

const WIRE_VARINT = 0;
const WIRE_BYTES = 2;
const ELEM_FLOAT = 1; // TensorProto.DataType.FLOAT
const ATTR_FLOAT = 1;
const ATTR_INT = 2;
const ATTR_INTS = 7;

/** An append-only protobuf message. */
class Message {
  private readonly bytes: number[] = [];

  varint(value: number | bigint): this {
    let v = BigInt.asUintN(64, BigInt(value)); // negative int64 values are 10-byte two's complement
    while (v >= 0x80n) {
      this.bytes.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.bytes.push(Number(v));
    return this;
  }

  int(field: number, value: number): this {
    return this.varint((field << 3) | WIRE_VARINT).varint(value);
  }

  raw(field: number, data: Uint8Array): this {
    this.varint((field << 3) | WIRE_BYTES).varint(data.length);
    for (const b of data) this.bytes.push(b);
    return this;
  }

  string(field: number, text: string): this {
    return this.raw(field, new TextEncoder().encode(text));
  }

  message(field: number, m: Message): this {
    return this.raw(field, m.finish());
  }

  /** A float32 field (wire type 5). */
  float(field: number, value: number): this {
    this.varint((field << 3) | 5);
    for (const b of new Uint8Array(new Float32Array([value]).buffer)) this.bytes.push(b);
    return this;
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.bytes);
  }
}

/** ValueInfoProto { name = 1; type = 2 } with TypeProto.tensor_type = 1 { elem_type = 1; shape = 2 }. */
function valueInfo(name: string, shape: readonly number[]): Message {
  const dims = new Message();
  for (const d of shape) dims.message(1, new Message().int(1, d)); // TensorShapeProto.dim { dim_value = 1 }
  const tensorType = new Message().int(1, ELEM_FLOAT).message(2, dims);
  return new Message().string(1, name).message(2, new Message().message(1, tensorType));
}

/** TensorProto { dims = 1; data_type = 2; name = 8; raw_data = 9 } (raw data little-endian, as on every host here). */
function tensorProto(t: OnnxTensor): Message {
  const m = new Message();
  for (const d of t.shape) m.int(1, d);
  return m.int(2, ELEM_FLOAT).string(8, t.name).raw(9, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
}

/** AttributeProto { name = 1; f = 2; i = 3; ints = 8; type = 20 }. */
function attribute(name: string, value: OnnxAttribute): Message {
  const m = new Message().string(1, name);
  if (typeof value === 'number') return m.int(3, value).int(20, ATTR_INT);
  if ('float' in value) return m.float(2, value.float).int(20, ATTR_FLOAT);
  for (const v of value) m.int(8, v);
  return m.int(20, ATTR_INTS);
}

/** Serialises a one-node model (ModelProto bytes) for `InferenceSession.create`. */
export function onnxNodeModel(spec: OnnxNodeModel): Uint8Array {
  const initializers = spec.initializers ?? [];
  const node = new Message();
  for (const i of spec.inputs) node.string(1, i.name);
  for (const i of initializers) node.string(1, i.name);
  node.string(2, spec.output.name).string(3, spec.opType.toLowerCase()).string(4, spec.opType);
  for (const [name, value] of Object.entries(spec.attributes ?? {})) node.message(5, attribute(name, value));

  // GraphProto { node = 1; name = 2; initializer = 5; input = 11; output = 12 }
  const graph = new Message().message(1, node).string(2, 'bench');
  for (const t of initializers) graph.message(5, tensorProto(t));
  for (const i of spec.inputs) graph.message(11, valueInfo(i.name, i.shape));
  graph.message(12, valueInfo(spec.output.name, spec.output.shape));

  // ModelProto { ir_version = 1; producer_name = 2; graph = 7; opset_import = 8 { domain = 1; version = 2 } }
  return new Message()
    .int(1, 8)
    .string(2, 'synthe-bench')
    .message(7, graph)
    .message(8, new Message().string(1, '').int(2, spec.opset ?? 17))
    .finish();
}
