/**
 * A pickle assembler (used by the fuzzer and the tests): builds protocol-2 pickles op by op, so tests can write exactly
 * the gadgets an attacker would (GLOBAL os.system + REDUCE) and the structures torch.save writes.
 */
export class PickleWriter {
  private readonly parts: number[] = [0x80, 2];
  private op(...bytes: number[]): this { this.parts.push(...bytes); return this; }
  private text(s: string): number[] { return [...Buffer.from(s, 'utf8')]; }
  global(module: string, name: string): this { return this.op(0x63, ...this.text(`${module}\n${name}\n`)); }
  str(s: string): this { const b = this.text(s); return this.op(0x58, b.length & 0xff, (b.length >> 8) & 0xff, 0, 0, ...b); }
  int(n: number): this {
    if (n >= -(2 ** 31) && n < 2 ** 31) { const b = Buffer.alloc(4); b.writeInt32LE(n); return this.op(0x4a, ...b); }
    // LONG1: little-endian two's complement, as pickle writes Python ints beyond 32 bits.
    const bytes: number[] = [];
    let v = BigInt(n);
    do { bytes.push(Number(v & 0xffn)); v >>= 8n; } while (!(v === 0n && bytes[bytes.length - 1]! < 0x80) && !(v === -1n && bytes[bytes.length - 1]! >= 0x80));
    return this.op(0x8a, bytes.length, ...bytes);
  }
  none(): this { return this.op(0x4e); }
  bool(v: boolean): this { return this.op(v ? 0x88 : 0x89); }
  mark(): this { return this.op(0x28); }
  tuple(): this { return this.op(0x74); }
  emptyTuple(): this { return this.op(0x29); }
  emptyDict(): this { return this.op(0x7d); }
  setitems(): this { return this.op(0x75); }
  setitem(): this { return this.op(0x73); }
  reduce(): this { return this.op(0x52); }
  binpersid(): this { return this.op(0x51); }
  build(): this { return this.op(0x62); }
  put(i: number): this { return this.op(0x71, i); }
  get(i: number): this { return this.op(0x68, i); }
  raw(...bytes: number[]): this { return this.op(...bytes); }
  stop(): Uint8Array { this.op(0x2e); return Uint8Array.from(this.parts); }
}

/** A tensor entry in torch's pickle: _rebuild_tensor_v2(persistent storage, offset, size, stride, False, OrderedDict()). */
export function torchTensor(w: PickleWriter, storageType: string, key: string, numel: number, offset: number, size: number[], stride: number[]): PickleWriter {
  w.global('torch._utils', '_rebuild_tensor_v2').mark();
  w.mark().str('storage').global('torch', storageType).str(key).str('cpu').int(numel).tuple().binpersid();
  w.int(offset);
  w.mark(); for (const s of size) w.int(s); w.tuple();
  w.mark(); for (const s of stride) w.int(s); w.tuple();
  w.bool(false);
  w.global('collections', 'OrderedDict').emptyTuple().reduce();
  return w.tuple().reduce();
}
