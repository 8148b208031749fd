import * as zlib from 'node:zlib';
import { fail } from '../util/errors.js';
import { LIMITS } from '../util/limits.js';

/**
 * A read-only zip reader for the archives torch.save writes: stored (uncompressed) entries,
 * zip64 records for large files, data descriptors, any top folder name. Deflated entries are
 * accepted too (users re-zip checkpoints), inflated with a bound taken from the central directory.
 * Every offset and length is checked against the file before it is used.
 */
export interface ZipEntry {
  name: string;
  method: number;
  compressedSize: number;
  uncompressedSize: number;
  localHeaderOffset: number;
}

const SIG_EOCD = 0x06054b50;
const SIG_EOCD64 = 0x06064b50;
const SIG_EOCD64_LOCATOR = 0x07064b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_LOCAL = 0x04034b50;

export function isZip(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04;
}

function u64(view: DataView, off: number): number {
  const v = view.getBigUint64(off, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) return Number.MAX_SAFE_INTEGER;
  return Number(v);
}

export class ZipArchive {
  readonly entries = new Map<string, ZipEntry>();
  private readonly view: DataView;

  constructor(private readonly bytes: Uint8Array, private readonly label: string) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.readCentralDirectory();
  }

  private bad(msg: string): never {
    fail('format', `${this.label}: not a valid zip archive (${msg})`);
  }

  private findEocd(): number {
    const min = Math.max(0, this.bytes.length - 22 - 0xffff);
    for (let off = this.bytes.length - 22; off >= min; off--) {
      if (this.view.getUint32(off, true) === SIG_EOCD) return off;
    }
    return this.bad('end of central directory not found; the file may be truncated');
  }

  private readCentralDirectory(): void {
    if (this.bytes.length < 22) this.bad('file too short');
    const eocd = this.findEocd();
    let count = this.view.getUint16(eocd + 10, true);
    let cdSize = this.view.getUint32(eocd + 12, true);
    let cdOffset = this.view.getUint32(eocd + 16, true);
    if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
      const loc = eocd - 20;
      if (loc < 0 || this.view.getUint32(loc, true) !== SIG_EOCD64_LOCATOR) this.bad('zip64 locator missing');
      const eocd64 = u64(this.view, loc + 8);
      if (eocd64 + 56 > this.bytes.length || this.view.getUint32(eocd64, true) !== SIG_EOCD64) this.bad('zip64 end record missing');
      count = u64(this.view, eocd64 + 32);
      cdSize = u64(this.view, eocd64 + 40);
      cdOffset = u64(this.view, eocd64 + 48);
    }
    // Each central directory entry takes at least 46 bytes: a count beyond that is a lie.
    if (count > LIMITS.zipEntries || count * 46 > this.bytes.length) this.bad(`${count} entries declared`);
    if (cdOffset + cdSize > this.bytes.length) this.bad('central directory lies beyond the end of the file');
    let p = cdOffset;
    for (let i = 0; i < count; i++) {
      if (p + 46 > this.bytes.length || this.view.getUint32(p, true) !== SIG_CENTRAL) this.bad(`central directory entry ${i} is damaged`);
      const method = this.view.getUint16(p + 10, true);
      let compressedSize = this.view.getUint32(p + 20, true);
      let uncompressedSize = this.view.getUint32(p + 24, true);
      const nameLen = this.view.getUint16(p + 28, true);
      const extraLen = this.view.getUint16(p + 30, true);
      const commentLen = this.view.getUint16(p + 32, true);
      let localHeaderOffset = this.view.getUint32(p + 42, true);
      const end = p + 46 + nameLen + extraLen + commentLen;
      if (end > this.bytes.length) this.bad(`central directory entry ${i} runs past the end of the file`);
      const name = Buffer.from(this.bytes.subarray(p + 46, p + 46 + nameLen)).toString('utf8');
      // zip64 extended information: only the fields whose 32-bit value is saturated are present, in this order.
      let q = p + 46 + nameLen;
      const extraEnd = q + extraLen;
      while (q + 4 <= extraEnd) {
        const id = this.view.getUint16(q, true);
        const size = this.view.getUint16(q + 2, true);
        if (q + 4 + size > extraEnd) this.bad(`extra field of ${name} is damaged`);
        if (id === 0x0001) {
          let r = q + 4;
          const take = (): number => {
            if (r + 8 > q + 4 + size) this.bad(`zip64 field of ${name} is short`);
            const v = u64(this.view, r);
            r += 8;
            return v;
          };
          if (uncompressedSize === 0xffffffff) uncompressedSize = take();
          if (compressedSize === 0xffffffff) compressedSize = take();
          if (localHeaderOffset === 0xffffffff) localHeaderOffset = take();
        }
        q += 4 + size;
      }
      if (this.entries.has(name)) this.bad(`duplicate entry ${name}`);
      this.entries.set(name, { name, method, compressedSize, uncompressedSize, localHeaderOffset });
      p = end;
    }
  }

  /** The bytes of an entry; a view into the file for stored entries (no copy). */
  read(name: string): Uint8Array {
    const e = this.entries.get(name);
    if (!e) fail('format', `${this.label}: archive has no entry ${name}`);
    const h = e.localHeaderOffset;
    if (h + 30 > this.bytes.length || this.view.getUint32(h, true) !== SIG_LOCAL) this.bad(`local header of ${name} is damaged`);
    // The local header's name and extra lengths may differ from the central directory's (torch pads
    // the local extra field so that tensor data is 64-byte aligned), so they are read here.
    const start = h + 30 + this.view.getUint16(h + 26, true) + this.view.getUint16(h + 28, true);
    if (start + e.compressedSize > this.bytes.length) this.bad(`entry ${name} runs past the end of the file (truncated?)`);
    const raw = this.bytes.subarray(start, start + e.compressedSize);
    if (e.method === 0) {
      if (e.compressedSize !== e.uncompressedSize) this.bad(`stored entry ${name} has inconsistent sizes`);
      return raw;
    }
    if (e.method === 8) {
      // Bound the output by the declared size so a zip bomb cannot allocate more than it says.
      if (e.uncompressedSize > e.compressedSize * LIMITS.zipInflateRatio + 1024) {
        fail('security', `${this.label}: entry ${name} declares ${e.uncompressedSize} bytes from ${e.compressedSize} compressed (a zip bomb?)`);
      }
      try {
        const out = zlib.inflateRawSync(raw, { maxOutputLength: Math.max(1, e.uncompressedSize) });
        if (out.length !== e.uncompressedSize) this.bad(`entry ${name} inflates to ${out.length} bytes, ${e.uncompressedSize} declared`);
        return out;
      } catch (err) {
        if ((err as Error).name === 'BisenetError') throw err;
        this.bad(`entry ${name} does not inflate: ${(err as Error).message}`);
      }
    }
    return this.bad(`entry ${name} uses compression method ${e.method}, which is not supported`);
  }
}
