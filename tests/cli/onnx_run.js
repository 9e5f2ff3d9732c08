// Runs an ONNX graph in ONNX Runtime (npm package onnxruntime-node), for
// tests/cli/test_export.sh:
//   node onnx_run.js MODEL.onnx OUT_PREFIX NAME=FILE:TYPE:D0xD1 ...
// Each input NAME is read from FILE, raw little-endian TYPE (float32 or
// int64) of shape D0xD1...; each output is written to OUT_PREFIX.NAME as raw
// float32, and its shape printed as "NAME D0xD1".
'use strict';
const fs = require('fs');
const ort = require('onnxruntime-node');

async function main() {
    const [model, prefix, ...specs] = process.argv.slice(2);
    const feeds = {};
    for (const s of specs) {
        const m = /^([^=]+)=(.+):(float32|int64):([0-9x]+)$/.exec(s);
        if (!m) throw new Error(`bad input spec '${s}'`);
        const dims = m[4].split('x').map(Number);
        const buf = fs.readFileSync(m[2]);
        const data = m[3] === 'float32'
            ? new Float32Array(buf.buffer, buf.byteOffset, buf.length / 4)
            : new BigInt64Array(buf.buffer, buf.byteOffset, buf.length / 8);
        feeds[m[1]] = new ort.Tensor(m[3], data, dims);
    }
    const session = await ort.InferenceSession.create(model);
    const out = await session.run(feeds);
    for (const name of session.outputNames) {
        const t = out[name];
        fs.writeFileSync(`${prefix}.${name}`, Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
        console.log(`${name} ${t.dims.join('x')}`);
    }
}
main().catch((e) => {
    console.error(`onnx_run: ${e.message}`);
    process.exit(1);
});
