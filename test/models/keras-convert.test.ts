/**
 * The TF.js layers-model reader and the Keras → safetensors converter, on synthetic models written to a temp
 * dir: sharded data, every storage (float32, uint8, uint16, float16), the OIHW layout, the graph metadata,
 * and one clear error for each kind of broken manifest or unsupported topology.
 */
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { openSafetensors } from '../../src/io/safetensors';
import { decodeTfjsModel, readTfjsModel, type TfjsLayersModel } from '../../src/io/tfjs';
import { convertTfjsModel, tfjsToSafetensors } from '../../src/models/keras-convert';
import { inferGraph, parseKerasGraph } from '../../src/models/keras-graph-spec';
import { conv, layersModel, syntheticUpscaler, writeLayersModel, type LayersModelFixture } from './tfjs_fixtures';

const OPTIONS = { pixelRange: '0-1', source: 'fixture' } as const;

/** A deep copy of a fixture's model.json, for breaking one field. */
function json(fixture: LayersModelFixture): Record<string, any> {
  return structuredClone(fixture.modelJson);
}

describe('readTfjsModel', () => {
  it('reads model.json and sharded weights from a path, a file: URL and memory, dequantizing as TF.js does', async () => {
    const fixture = syntheticUpscaler();
    const path = await writeLayersModel(fixture);
    for (const source of [path, pathToFileURL(path), { modelJson: fixture.modelJson, shards: fixture.shards }]) {
      const model = await readTfjsModel(source);
      expect([...model.weights.keys()]).toEqual([...fixture.values.keys()]);
      for (const [name, expected] of fixture.values) {
        // Bit-exact: the same f64 arithmetic as tfjs-core's decodeWeights, rounded to f32 once.
        expect(model.weights.get(name)!.data, name).toEqual(expected);
      }
      expect(model.weights.get('c2/kernel')!.shape).toEqual([3, 3, 8, 8]);
      expect(model.generatedBy).toBe('keras v2.10.0');
    }
  });

  it('fetches model.json and shards relative to a URL', async () => {
    const fixture = syntheticUpscaler();
    const path = await writeLayersModel(fixture);
    const asked: string[] = [];
    const fakeFetch = (async (input: URL) => {
      asked.push(input.href);
      const file = input.pathname.split('/').pop()!;
      return new Response(await readFile(join(dirname(path), file)));
    }) as unknown as typeof fetch;
    const model = await readTfjsModel('https://example.test/models/x2/model.json', { fetch: fakeFetch });
    expect(model.weights.size).toBe(fixture.values.size);
    expect(asked).toEqual([
      'https://example.test/models/x2/model.json',
      'https://example.test/models/x2/group1-shard1of3.bin',
      'https://example.test/models/x2/group1-shard2of3.bin',
      'https://example.test/models/x2/group1-shard3of3.bin',
    ]);
    const notFound = (async () => new Response('no', { status: 404, statusText: 'Not Found' })) as unknown as typeof fetch;
    await expect(readTfjsModel('https://example.test/model.json', { fetch: notFound })).rejects.toThrow('https://example.test/model.json: HTTP 404 Not Found');
  });

  it('rejects malformed manifests and wrong sizes with the weight or field named', async () => {
    const fixture = syntheticUpscaler();
    const decode = (modelJson: unknown, shards = fixture.shards) => () => decodeTfjsModel(modelJson, shards, 'm.json');
    const [a, b, c] = fixture.shards as [Uint8Array, Uint8Array, Uint8Array];

    const truncated = [a, b, c.subarray(0, c.length - 10)];
    expect(decode(fixture.modelJson, truncated)).toThrow(/describes \d+ bytes but the shards hold \d+; the data ends inside weight "out\/kernel" \[3,3,3,3\]/);
    const padded = [a, b, new Uint8Array([...c, 0, 0, 0, 0])];
    expect(decode(fixture.modelJson, padded)).toThrow('4 bytes are left over after the last weight');
    expect(decode(fixture.modelJson, [a, b])).toThrow('weightsManifest lists 3 shard(s) but 2 were given');

    const cases: [string, (m: Record<string, any>) => void, string | RegExp][] = [
      ['not an array', (m) => (m.weightsManifest = {}), 'weightsManifest must be an array, got object'],
      ['paths', (m) => (m.weightsManifest[0].paths = ['a.bin', 3]), 'weightsManifest[0].paths must be an array of shard file names'],
      ['no min', (m) => delete m.weightsManifest[0].weights[2].quantization.min, /weights\[2\] \("c2\/bias"\): uint8 quantization needs finite numbers min and scale/],
      ['int4', (m) => (m.weightsManifest[0].weights[2].quantization.dtype = 'int4'), 'quantization dtype "int4" is not supported'],
      ['string', (m) => (m.weightsManifest[0].weights[0].dtype = 'string'), '("c1/bias"): dtype "string" is not supported'],
      ['shape', (m) => (m.weightsManifest[0].weights[1].shape = [3, -3]), '("c1/kernel"): shape must be an array of non-negative integers, got [3,-3]'],
      ['duplicate', (m) => (m.weightsManifest[0].weights[1].name = 'c1/bias'), 'weight "c1/bias" is listed twice'],
      ['graph model', (m) => (m.format = 'graph-model'), 'only "layers-model" is supported (graph models hold a TensorFlow graph'],
      ['topology', (m) => delete m.modelTopology, 'modelTopology is missing'],
    ];
    for (const [what, breakIt, message] of cases) {
      const broken = json(fixture);
      breakIt(broken);
      expect(decode(broken), what).toThrow(message);
    }
    expect(decode([])).toThrow('m.json: model.json must be a JSON object, got an array');
  });

  it('names the file that cannot be read', async () => {
    const path = await writeLayersModel(syntheticUpscaler());
    await expect(readTfjsModel(join(dirname(path), 'missing.json'))).rejects.toThrow(/missing\.json: cannot read file/);
    const { rm, writeFile } = await import('node:fs/promises');
    await rm(join(dirname(path), 'group1-shard2of3.bin'));
    await expect(readTfjsModel(path)).rejects.toThrow(/group1-shard2of3\.bin: cannot read file/);
    await writeFile(path, '{"format": "layers-model",');
    await expect(readTfjsModel(path)).rejects.toThrow(/model\.json: not valid JSON/);
  });
});

describe('convertTfjsModel', () => {
  async function converted(fixture = syntheticUpscaler()) {
    const model = await readTfjsModel({ modelJson: fixture.modelJson, shards: fixture.shards });
    return { fixture, model, result: convertTfjsModel(model, OPTIONS) };
  }

  it('writes OIHW kernels, biases, and the reduced graph with its metadata', async () => {
    const { fixture, result } = await converted();
    const { tensors, metadata, graph } = result;
    expect([...tensors.keys()].sort()).toEqual(
      ['c1.bias', 'c1.weight', 'c2.bias', 'c2.weight', 'c3.weight', 'c4.bias', 'c4.weight', 'down.bias', 'down.weight', 'out.bias', 'out.weight'],
    );
    // OIHW[o][i][y][x] = HWIO[y][x][i][o] for c4: (3, 3, 8, 12) -> (12, 8, 3, 3).
    const hwio = fixture.values.get('c4/kernel')!;
    const oihw = tensors.get('c4.weight')!;
    expect(oihw.shape).toEqual([12, 8, 3, 3]);
    const data = oihw.data as Float32Array;
    for (const [o, i, y, x] of [[0, 0, 0, 0], [11, 7, 2, 2], [5, 3, 1, 0], [2, 6, 0, 2]] as const) {
      expect(data[((o * 8 + i) * 3 + y) * 3 + x]).toBe(hwio[((y * 3 + x) * 8 + i) * 12 + o]);
    }
    expect(tensors.get('c2.bias')!.data).toEqual(fixture.values.get('c2/bias'));

    expect(metadata).toMatchObject({ 'synthe.arch': 'keras', 'synthe.scale': '2', 'synthe.pixel_range': '0-1', 'synthe.source': 'fixture' });
    expect(parseKerasGraph(metadata['synthe.graph'], 'meta')).toEqual(graph);
    expect(graph.inputs).toEqual(['in']);
    expect(graph.outputs).toEqual(['out']);
    expect(graph.layers.find((l) => l.name === 'down')).toEqual({
      class: 'Conv2D', name: 'down', inbound: ['add'], filters: 8, kernel_size: [3, 3], strides: [2, 2], padding: 'same',
      dilation_rate: [1, 1], groups: 1, use_bias: true, activation: 'linear',
    });
    expect(graph.layers.find((l) => l.name === 'ps')).toEqual({ class: 'PixelShuffle', name: 'ps', inbound: ['c4'], scale: 2 });
    expect(graph.layers.find((l) => l.name === 'cat')).toMatchObject({ axis: 3, inbound: ['c1', 'a2'] });
    const shapes = inferGraph(graph, 'g');
    expect([shapes.channels.get('cat'), shapes.scale.get('down'), shapes.scale.get('up')]).toEqual([16, 0.5, 2]);
  });

  it('round-trips through a safetensors file', async () => {
    const { model, result } = await converted();
    const file = await openSafetensors(tfjsToSafetensors(model, OPTIONS));
    expect(file.metadata).toEqual(result.metadata);
    expect(file.info('c3.weight').shape).toEqual([8, 16, 1, 1]);
    expect(await file.float32('c3.weight')).toEqual(result.tensors.get('c3.weight')!.data);
  });

  it('refuses what it cannot run, naming the layer', async () => {
    const input = { class_name: 'InputLayer', name: 'in', config: { batch_input_shape: [null, null, null, 3] } };
    const convert = (layers: Parameters<typeof layersModel>[0], weights: Parameters<typeof layersModel>[1], options = {}) => {
      const fixture = layersModel(layers, weights);
      const model = decodeTfjsModel(fixture.modelJson, fixture.shards, 'm.json');
      return () => convertTfjsModel(model, { ...OPTIONS, ...options });
    };
    const k = (name: string, cin: number, cout: number) => [{ name: `${name}/kernel`, shape: [3, 3, cin, cout] }, { name: `${name}/bias`, shape: [cout] }];

    expect(convert([input, { class_name: 'Dense', name: 'fc', config: { units: 4 }, inbound: ['in'] }], [])).toThrow(
      'fixture: Dense "fc": layer class "Dense" is not supported',
    );
    expect(convert([input, conv('c', 'in', 4)], [{ name: 'c/bias', shape: [4] }])).toThrow('weight "c/kernel" of layer "c" is missing');
    expect(convert([input, conv('c', 'in', 4)], k('c', 5, 4))).toThrow('Conv2D "c": its kernel takes 5 input channels but "in" gives 3');
    expect(convert([input, conv('c', 'in', 4)], [...k('c', 3, 4), { name: 'extra/kernel', shape: [1] }])).toThrow('weights that no supported layer uses: extra/kernel');
    expect(convert([input, conv('c', 'in', 4, { activation: 'softmax' })], k('c', 3, 4))).toThrow('activation "softmax" is not supported');
    expect(convert([input, conv('c', 'in', 4, { data_format: 'channels_first' })], k('c', 3, 4))).toThrow('data_format "channels_first" is not supported');
    const bilinear = { class_name: 'UpSampling2D', name: 'up', config: { size: [2, 2], interpolation: 'bilinear' }, inbound: ['in'] };
    expect(convert([input, bilinear], [])).toThrow('UpSampling2D "up": interpolation "bilinear" is not supported (nearest)');
    const add = { class_name: 'Add', name: 'sum', inbound: ['in', 'c'] };
    expect(convert([input, conv('c', 'in', 4), add], k('c', 3, 4))).toThrow('Add "sum" adds tensors of different channel counts (3, 4)');
    expect(convert([input, conv('c', 'in', 4)], k('c', 3, 4), { scale: 2 })).toThrow('the graph upscales by 1, not by the expected 2');
    const forward = { class_name: 'Activation', name: 'act', config: { activation: 'relu' }, inbound: ['later'] };
    expect(convert([input, forward, { class_name: 'Activation', name: 'later', config: { activation: 'relu' }, inbound: ['in'] }], [])).toThrow(
      'layer "act" takes "later", which is not defined before it',
    );
  });

  it('refuses shared layers and multi-output references', () => {
    const fixture = layersModel([{ class_name: 'InputLayer', name: 'in', config: { batch_input_shape: [null, null, null, 3] } }, conv('c', 'in', 3)], [
      { name: 'c/kernel', shape: [3, 3, 3, 3] },
      { name: 'c/bias', shape: [3] },
    ]);
    const layers = (fixture.modelJson as any).modelTopology.model_config.config.layers;
    layers[1].inbound_nodes.push([['c', 0, 0, {}]]);
    const model: TfjsLayersModel = decodeTfjsModel(fixture.modelJson, fixture.shards, 'm.json');
    expect(() => convertTfjsModel(model, OPTIONS)).toThrow('layer "c" is called 2 times; shared layers are not supported');
    layers[1].inbound_nodes = [[['in', 0, 1, {}]]];
    expect(() => convertTfjsModel(decodeTfjsModel(fixture.modelJson, fixture.shards, 'm.json'), OPTIONS)).toThrow('takes output [0,1] of "in"');
  });
});
