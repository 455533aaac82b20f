#!/usr/bin/env node
// Per-datagram cost of the transport allow-list check. AddressAllowList.allows canonicalises the
// source address of every raw UDP datagram; that is now src/net/address.ts (net.isIP + ipaddr.js)
// behind a small memo. Measured beside the hand-written canonicaliser it replaced (isIP + split for
// IPv4, the WHATWG URL parser for IPv6), inlined below as the baseline, uncached as it was, in the
// same run: first canonicalIp alone (no memo), then allows() against that baseline plus a Map lookup.
// Needs `npm run build` (imports ../dist).
import { isIP } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const { canonicalIp, AddressAllowList } = await import(path.join(here, '../dist/transport/allow-list.js'));

function baseline(text) {
  let t = text.trim();
  if (t.startsWith('[') && t.endsWith(']')) t = t.slice(1, -1);
  const family = isIP(t);
  if (family === 4)
    return t
      .split('.')
      .map((o) => String(Number(o)))
      .join('.');
  if (family !== 6 || t.includes('%')) return undefined;
  const host = new URL(`http://[${t}]/`).hostname.slice(1, -1);
  const m = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(host);
  if (!m) return host;
  const hi = parseInt(m[1], 16);
  const lo = parseInt(m[2], 16);
  return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
}

const N = 200_000;
function nsPerCall(f, input) {
  for (let i = 0; i < 20_000; i++) f(input);
  const t = process.hrtime.bigint();
  for (let i = 0; i < N; i++) f(input);
  return Number(process.hrtime.bigint() - t) / N;
}

console.log('canonicalIp, uncached:');
for (const input of ['203.0.113.7', '::ffff:203.0.113.7', '2001:db8::7', 'not-an-address']) {
  if (canonicalIp(input) !== baseline(input)) throw new Error(`disagree on ${input}: ${canonicalIp(input)} vs ${baseline(input)}`);
  const now = nsPerCall(canonicalIp, input);
  const base = nsPerCall(baseline, input);
  console.log(
    `${input.padEnd(20)} shared ${now.toFixed(0).padStart(5)} ns/call   hand-written ${base.toFixed(0).padStart(5)} ns/call   ratio ${(now / base).toFixed(2)}x`,
  );
}

console.log('allows(host, port), the per-datagram check:');
const list = new AddressAllowList(['203.0.113.7', '2001:db8::7']);
const hosts = new Map([
  ['203.0.113.7', true],
  ['2001:db8::7', true],
]);
const baselineAllows = (h) => hosts.has(baseline(h));
for (const input of ['203.0.113.7', '::ffff:203.0.113.7', '2001:db8::7', 'not-an-address']) {
  if (list.allows(input, 5000) !== baselineAllows(input)) throw new Error(`disagree on ${input}`);
  const now = nsPerCall((h) => list.allows(h, 5000), input);
  const base = nsPerCall(baselineAllows, input);
  console.log(
    `${input.padEnd(20)} shared ${now.toFixed(0).padStart(5)} ns/call   hand-written ${base.toFixed(0).padStart(5)} ns/call   ratio ${(now / base).toFixed(2)}x`,
  );
}
