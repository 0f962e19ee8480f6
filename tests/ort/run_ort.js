// run_ort.js MODEL.onnx INPUT.f32 N C H W OUTDIR: runs the model in ONNX
// Runtime (CPU) on N x C x H x W float32 values read from INPUT.f32 (little
// endian, as numpy's tofile writes them) and writes each output to
// OUTDIR/<name>.f32, and OUTDIR/session.json with the input and output names
// and the output shapes. Used by tests/ort/check_export.py.
'use strict';
const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');

async function main() {
  const [model, input, n, c, h, w, outdir] = process.argv.slice(2);
  const dims = [n, c, h, w].map(Number);
  const buf = fs.readFileSync(input);
  const count = dims.reduce((a, b) => a * b, 1);
  if (buf.length !== count * 4) throw new Error(`${input}: ${buf.length} bytes, expected ${count * 4}`);
  const x = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
  const session = await ort.InferenceSession.create(model, { executionProviders: ['cpu'] });
  const feeds = {};
  feeds[session.inputNames[0]] = new ort.Tensor('float32', x, dims);
  const results = await session.run(feeds);
  const shapes = {};
  for (const name of session.outputNames) {
    const t = results[name];
    shapes[name] = t.dims;
    fs.writeFileSync(path.join(outdir, name + '.f32'), Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  }
  fs.writeFileSync(path.join(outdir, 'session.json'),
    JSON.stringify({ inputNames: session.inputNames, outputNames: session.outputNames, shapes, ortVersion: ort.env.versions }));
}

main().catch((e) => { console.error('run_ort.js: ' + (e && e.message ? e.message : e)); process.exit(1); });
