// The Node.js peer of the serving benchmark: fastify 5 + onnxruntime-node, the same model file and JSON contract as
// the serving app's POST /api/models/{name}/predict (x-functions-key checked, rows validated, one batched run per request,
// classification answers {label, probabilities}). Written for bench/run.sh; not part of the product.
//   PORT=7402 KEY=... MODELS_PATH=bench/out/models node bench/node-peer/server.js        (model on local disk)
//   PORT=7402 KEY=... STORAGE=UseDevelopmentStorage=true node bench/node-peer/server.js  (model in Azurite)
'use strict';
const fs = require('node:fs/promises');
const path = require('node:path');
const ort = require('onnxruntime-node');
const fastify = require('fastify')({ logger: false, bodyLimit: 4 * 1024 * 1024 });

const key = process.env.KEY || '';
const models = new Map(); // name -> Promise<{ session, manifest, version }>

async function readModelFiles(name) {
  if (process.env.MODELS_PATH) {
    const root = path.join(process.env.MODELS_PATH, name);
    const { version } = JSON.parse(await fs.readFile(path.join(root, 'current.json'), 'utf8'));
    const manifest = JSON.parse(await fs.readFile(path.join(root, version, 'manifest.json'), 'utf8'));
    return { version, manifest, onnx: await fs.readFile(path.join(root, version, manifest.artifact || 'model.onnx')) };
  }
  const { BlobServiceClient } = require('@azure/storage-blob');
  const connection = process.env.STORAGE === 'UseDevelopmentStorage=true'
    ? 'DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;'
    : process.env.STORAGE;
  const container = BlobServiceClient.fromConnectionString(connection).getContainerClient('models');
  const read = async (blob) => container.getBlockBlobClient(blob).downloadToBuffer();
  const { version } = JSON.parse((await read(`${name}/current.json`)).toString('utf8'));
  const manifest = JSON.parse((await read(`${name}/${version}/manifest.json`)).toString('utf8'));
  return { version, manifest, onnx: await read(`${name}/${version}/${manifest.artifact || 'model.onnx'}`) };
}

async function load(name) {
  const { version, manifest, onnx } = await readModelFiles(name);
  const session = await ort.InferenceSession.create(onnx, {
    intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all',
  });
  return { session, manifest, version, index: new Map(manifest.features.map((f, i) => [f, i])) };
}

function problem(reply, status, title, detail) {
  return reply.code(status).type('application/problem+json').send({ status, title, detail });
}

fastify.get('/', async () => 'ready');

fastify.post('/api/models/:name/predict', async (request, reply) => {
  if (key && request.headers['x-functions-key'] !== key) {
    return problem(reply, 401, 'Function key required', 'Send the function key in the x-functions-key header.');
  }
  const name = request.params.name;
  let entry = models.get(name);
  if (!entry) {
    entry = load(name);
    models.set(name, entry);
    entry.catch(() => models.delete(name));
  }
  const model = await entry;
  const rows = request.body && request.body.rows;
  if (!Array.isArray(rows) || rows.length === 0 || rows.length > 1000) {
    return problem(reply, 400, 'Invalid rows', "The body must be {\"rows\":[...]} with 1 to 1000 rows.");
  }
  const width = model.manifest.features.length;
  const values = new Float32Array(rows.length * width);
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r];
    if (row === null || typeof row !== 'object' || Array.isArray(row)) {
      return problem(reply, 400, 'Invalid row', `Row ${r} is not an object of feature values.`);
    }
    let present = 0;
    for (const [feature, value] of Object.entries(row)) {
      const f = model.index.get(feature);
      if (f === undefined) return problem(reply, 400, 'Unknown feature', `Row ${r} has feature '${feature}', which the model does not use.`);
      if (typeof value !== 'number' || !Number.isFinite(value)) return problem(reply, 400, 'Invalid feature value', `Row ${r} feature '${feature}' must be a finite JSON number.`);
      values[r * width + f] = value;
      present++;
    }
    if (present !== width) return problem(reply, 400, 'Missing feature', `Row ${r} is missing feature(s).`);
  }
  const input = new ort.Tensor('float32', values, [rows.length, width]);
  const output = (await model.session.run({ [model.manifest.inputName]: input }))[model.manifest.outputName];
  const labels = model.manifest.labels;
  const classes = labels.length;
  const predictions = new Array(rows.length);
  for (let r = 0; r < rows.length; r++) {
    const probabilities = {};
    let best = 0;
    for (let k = 0; k < classes; k++) {
      const p = output.data[r * classes + k];
      probabilities[labels[k]] = p;
      if (p > output.data[r * classes + best]) best = k;
    }
    predictions[r] = { label: labels[best], probabilities };
  }
  return { model: name, version: model.version, predictions };
});

fastify.listen({ host: '127.0.0.1', port: Number(process.env.PORT || 7402) }).catch((error) => {
  console.error(error);
  process.exit(1);
});
