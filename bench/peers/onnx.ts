/**
 * ONNX models written in code: just enough of the protobuf wire format (varints and length-delimited fields)
 * and of onnx.proto's ModelProto to describe one operator, or a short chain of them where a peer has no fused
 * op (attention as MatMul → Softmax → MatMul), with graph inputs and constant initializers. Field numbers are
 * those of onnx/onnx.proto3; nothing is generated.
 */

/** A float32 tensor in ONNX (= PyTorch) layout, or an int64 one (a Reshape's target shape). */
export interface OnnxTensor {
  name: string;
  shape: readonly number[];
  data: Float32Array | BigInt64Array;
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

/** One node of a graph: inputs and output by value name (graph inputs, initializers or earlier outputs). */
export interface OnnxNode {
  opType: string;
  inputs: readonly string[];
  output: string;
  attributes?: Record<string, OnnxAttribute>;
}

/** A model of several nodes in order; the last node's output is the graph output. */
export interface OnnxGraphModel {
  inputs: readonly { name: string; shape: readonly number[] }[];
  initializers?: readonly OnnxTensor[];
  nodes: readonly OnnxNode[];
  output: { name: string; shape: readonly number[] };
  opset?: number;
}

export type OnnxModel = OnnxNodeModel | OnnxGraphModel;

const WIRE_VARINT = 0;
const WIRE_BYTES = 2;
const ELEM_FLOAT = 1; // TensorProto.DataType.FLOAT
const ELEM_INT64 = 7;
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
  const raw = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  return m.int(2, t.data instanceof BigInt64Array ? ELEM_INT64 : ELEM_FLOAT).string(8, t.name).raw(9, raw);
}

/** AttributeProto { name = 1; f = 2; i = 3; ints = 8; type = 20 }. */
function attribute(name: string, value: OnnxAttribute): Message {
  const m = new Message().string(1, name);
  if (typeof value === 'number') return m.int(3, value).int(20, ATTR_INT);
  if ('float' in value) return m.float(2, value.float).int(20, ATTR_FLOAT);
  for (const v of value) m.int(8, v);
  return m.int(20, ATTR_INTS);
}

/** The nodes of a model: a one-node model's operator takes its graph inputs, then its initializers. */
function nodesOf(spec: OnnxModel): readonly OnnxNode[] {
  if ('nodes' in spec) return spec.nodes;
  const inputs = [...spec.inputs, ...(spec.initializers ?? [])].map((i) => i.name);
  return [{ opType: spec.opType, inputs, output: spec.output.name, attributes: spec.attributes }];
}

/** Serialises a model (ModelProto bytes) for `InferenceSession.create`. */
export function onnxModel(spec: OnnxModel): Uint8Array {
  // GraphProto { node = 1; name = 2; initializer = 5; input = 11; output = 12 }
  const graph = new Message();
  // NodeProto { input = 1; output = 2; name = 3; op_type = 4; attribute = 5 }
  nodesOf(spec).forEach((n, i) => {
    const node = new Message();
    for (const input of n.inputs) node.string(1, input);
    node.string(2, n.output).string(3, `${n.opType.toLowerCase()}${i}`).string(4, n.opType);
    for (const [name, value] of Object.entries(n.attributes ?? {})) node.message(5, attribute(name, value));
    graph.message(1, node);
  });
  graph.string(2, 'bench');
  for (const t of spec.initializers ?? []) graph.message(5, tensorProto(t));
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
