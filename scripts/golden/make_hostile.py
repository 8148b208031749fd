"""Makes small hostile and odd input files for the checkpoint readers: fixtures/hostile/.

Run with Debian's PyTorch:  /usr/bin/python3 scripts/golden/make_hostile.py
Deterministic (fixed seeds, fixed zip dates): re-running gives the same bytes.

The three gadget checkpoints (os_system.pth, eval.pth, popen.pth) carry pickles written here opcode by
opcode that would run a command creating /tmp/bisenet-pwned if unpickled. Nothing in this script ever
unpickles them; it only disassembles them with pickletools (which executes nothing) to check them.
Never torch.load / pickle.load them anywhere.

fixtures/hostile/expected.json says, for every file, what a reader must do with it (refuse, and why; or
load, and which tensors with which shapes, dtypes and values).
"""
import hashlib
import io
import json
import os
import pickle
import pickletools
import struct
import zipfile

import numpy as np
import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
OUT = os.path.join(ROOT, 'fixtures', 'hostile')
MARKER = '/tmp/bisenet-pwned'
MAX_BYTES = 200 * 1024
ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def tensor_info(t, full_limit=64):
    """shape, dtype and values in C (row-major) logical order, whatever the storage order/strides."""
    a = t.detach().to(torch.float64).numpy() if isinstance(t, torch.Tensor) and t.dtype == torch.bfloat16 else np.asarray(t)
    dtype = str(t.dtype).replace('torch.', '') if isinstance(t, torch.Tensor) else str(t.dtype)
    flat = np.ascontiguousarray(a).reshape(-1)
    vals = [int(v) for v in flat] if np.issubdtype(flat.dtype, np.integer) else [float(v) for v in flat]
    info = {'shape': list(a.shape), 'dtype': dtype, 'numel': int(flat.size), 'first': vals[:6]}
    if dtype in ('float16', 'bfloat16'):  # the raw 16-bit patterns too, for readers that keep them undecoded
        bits = (t.contiguous().view(torch.int16).numpy() if dtype == 'bfloat16' else np.ascontiguousarray(t).view(np.int16))
        info['first_bits'] = [int(v) & 0xFFFF for v in bits.reshape(-1)[:6]]
    if flat.size <= full_limit:
        info['values'] = vals
    info['sum'] = int(flat.sum()) if np.issubdtype(flat.dtype, np.integer) else float(flat.astype(np.float64).sum())
    return info


def state_dict_info(sd):
    return {k: tensor_info(v.numpy() if v.dtype != torch.bfloat16 else v) for k, v in sd.items()}


# ---- tiny tensors, reused --------------------------------------------------------------------------

def tiny_state_dict():
    return {
        'w': (torch.arange(6, dtype=torch.float32).view(2, 3) * 0.5 - 1.0),
        'n': torch.tensor(3, dtype=torch.int64),
    }


def resnet_state_dict():
    """A tiny ResNet-like network (torchvision key names), i.e. a checkpoint of another network."""
    gen = torch.Generator().manual_seed(1234)
    sd = {}

    def conv(name, o, i, k):
        sd[name + '.weight'] = torch.randn((o, i, k, k), generator=gen) * (2.0 / (i * k * k)) ** 0.5

    def bn(name, c):
        sd[name + '.weight'] = torch.rand(c, generator=gen) + 0.5
        sd[name + '.bias'] = torch.randn(c, generator=gen) * 0.1
        sd[name + '.running_mean'] = torch.randn(c, generator=gen) * 0.1
        sd[name + '.running_var'] = torch.rand(c, generator=gen) * 1.5 + 0.5
        sd[name + '.num_batches_tracked'] = torch.tensor(100, dtype=torch.int64)

    conv('conv1', 8, 3, 7)
    bn('bn1', 8)
    conv('layer1.0.conv1', 8, 8, 3)
    bn('layer1.0.bn1', 8)
    conv('layer1.0.conv2', 8, 8, 3)
    bn('layer1.0.bn2', 8)
    conv('layer2.0.conv1', 16, 8, 3)
    bn('layer2.0.bn1', 16)
    conv('layer2.0.conv2', 16, 16, 3)
    bn('layer2.0.bn2', 16)
    conv('layer2.0.downsample.0', 16, 8, 1)
    bn('layer2.0.downsample.1', 16)
    sd['fc.weight'] = torch.randn((10, 16), generator=gen) * 0.25
    sd['fc.bias'] = torch.randn(10, generator=gen) * 0.1
    return sd


def torch_save_bytes(obj, **kw):
    buf = io.BytesIO()
    torch.save(obj, buf, **kw)
    return buf.getvalue()


def legacy_save_bytes(obj):
    """torch.save(obj, _use_new_zipfile_serialization=False), made reproducible.

    The legacy format is five pickles (magic number, protocol version, sys info, the object with storages as
    persistent ids, the list of storage keys) followed by each storage (int64 element count, raw bytes) in
    key-list order. torch names the storages by their memory address, so the bytes change from run to run;
    here the keys are renamed '0', '1', ... in order of first use and the storages reordered to match.
    """
    blob = torch_save_bytes(obj, _use_new_zipfile_serialization=False)
    ends, pos = [], 0
    for _ in range(5):
        for op, _arg, at in pickletools.genops(blob[pos:]):
            if op.name == 'STOP':
                ends.append(pos + at + 1)
                pos = ends[-1]
                break
    main, old_keys = blob[ends[2]:ends[3]], pickle.loads(blob[ends[3]:ends[4]])  # a list of str; nothing else
    sizes, order, prev = {}, [], None
    for op, arg, _ in pickletools.genops(main):
        if op.name == 'GLOBAL' and arg.startswith('torch ') and arg.endswith('Storage'):
            prev = arg.split(' ')[1]
        elif op.name == 'BINUNICODE' and arg in old_keys and arg not in order:
            order.append(arg)
            sizes[arg] = {'FloatStorage': 4, 'LongStorage': 8, 'HalfStorage': 2, 'DoubleStorage': 8}[prev]
    chunks, pos = {}, ends[4]
    for k in old_keys:
        n = struct.unpack('<q', blob[pos:pos + 8])[0]
        chunks[k] = blob[pos:pos + 8 + n * sizes[k]]
        pos += 8 + n * sizes[k]
    assert pos == len(blob) and sorted(order) == sorted(old_keys)
    new = {k: str(i) for i, k in enumerate(order)}
    for k in order:
        old, rep = binunicode(k), binunicode(new[k])
        assert main.count(old) == 1
        main = main.replace(old, rep)
    return blob[:ends[2]] + main + pickle.dumps([new[k] for k in order], protocol=2) + b''.join(chunks[k] for k in order)


# ---- hand-written pickle gadgets ---------------------------------------------------------------------

def binunicode(s):
    b = s.encode('utf-8')
    return b'X' + struct.pack('<I', len(b)) + b


def gadget(module, name, args_ops):
    """GLOBAL module.name, then the argument tuple built by args_ops, then REDUCE: a call at unpickling time."""
    return b'c' + module.encode() + b'\n' + name.encode() + b'\n' + args_ops + b'R'


def with_gadget(data_pkl, key, gadget_ops):
    """A torch data.pkl (a plain dict saved by torch.save: PROTO, EMPTY_DICT, BINPUT, MARK, ..., SETITEMS, STOP)
    with one more key whose value is the gadget, inserted after the real tensors and before SETITEMS."""
    assert data_pkl.endswith(b'u.'), 'unexpected torch pickle ending'
    return data_pkl[:-2] + binunicode(key) + gadget_ops + b'u.'


def rezip(entries, top, replace):
    """Write a torch-style zip (stored entries, fixed dates) under folder `top`, replacing some entries."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, 'w', zipfile.ZIP_STORED) as z:
        for name, data in entries:
            rel = name.split('/', 1)[1]
            info = zipfile.ZipInfo(f'{top}/{rel}', date_time=ZIP_DATE)
            z.writestr(info, replace.get(rel, data))
    return buf.getvalue()


def zip_entries(blob):
    with zipfile.ZipFile(io.BytesIO(blob)) as z:
        return [(n, z.read(n)) for n in z.namelist()]


def globals_of(pkl):
    """The GLOBAL / STACK_GLOBAL names a pickle references (static disassembly; executes nothing)."""
    out, strings = [], []
    for op, arg, _ in pickletools.genops(pkl):
        if op.name == 'GLOBAL':
            out.append(arg.replace(' ', '.'))
        elif op.name in ('SHORT_BINUNICODE', 'BINUNICODE', 'UNICODE'):
            strings.append(arg)
        elif op.name == 'STACK_GLOBAL':
            out.append(strings[-2] + '.' + strings[-1])
    return out


# ---- safetensors and npy, written by hand ---------------------------------------------------------------

ST_NAMES = {torch.float32: 'F32', torch.float16: 'F16', torch.bfloat16: 'BF16', torch.int64: 'I64', torch.float64: 'F64'}


def safetensors_bytes(tensors, metadata):
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        raw = t.view(torch.int16).numpy().tobytes() if t.dtype == torch.bfloat16 else t.numpy().astype(t.numpy().dtype.newbyteorder('<')).tobytes()
        header[name] = {'dtype': ST_NAMES[t.dtype], 'shape': list(t.shape), 'data_offsets': [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    header['__metadata__'] = metadata
    h = json.dumps(header, separators=(',', ':'), sort_keys=True).encode()
    h += b' ' * (-len(h) % 8)  # the format pads the header with spaces to a multiple of 8
    return struct.pack('<Q', len(h)) + h + b''.join(blobs)


def safetensors_tensors():
    return {
        'a.f32': torch.tensor([[1.5, -2.25, 0.1], [3.0, 1e-3, -1e4]], dtype=torch.float32),
        'b.f16': torch.tensor([0.5, -1.0, 65504.0, 2.0 ** -24], dtype=torch.float16),
        'c.bf16': torch.tensor([[1.0, -3.140625], [1e30, -2.5e-5]], dtype=torch.bfloat16),
        'd.i64': torch.tensor([-5, 0, 2 ** 40, 9007199254740991], dtype=torch.int64),
        'e.f64': torch.tensor([0.1, -1e300], dtype=torch.float64),
        'f.scalar': torch.tensor(42.0, dtype=torch.float32),
    }


def npy_arrays():
    base = np.arange(24).reshape(2, 3, 4)
    f = (base * 0.25 - 3.0)
    i = base * 1000003 - 7 - (base % 2) * 2 ** 40
    return {
        'tiny_f32_c.npy': np.ascontiguousarray(f.astype(np.float32)),
        'tiny_f32_f.npy': np.asfortranarray(f.astype(np.float32)),
        'tiny_f16_c.npy': np.ascontiguousarray(f[0].astype(np.float16)),
        'tiny_f16_f.npy': np.asfortranarray(f[0].astype(np.float16)),
        'tiny_i64_c.npy': np.ascontiguousarray(i.astype(np.int64)),
        'tiny_i64_f.npy': np.asfortranarray(i.astype(np.int64)),
        'tiny_f64_c.npy': np.ascontiguousarray((f[1] / 7).astype(np.float64)),
        'tiny_f64_f.npy': np.asfortranarray((f[1] / 7).astype(np.float64)),
        'tiny_f32_be.npy': f[0].astype('>f4'),
    }


# ---- main ---------------------------------------------------------------------------------------------

def main():
    os.makedirs(OUT, exist_ok=True)
    files = {}

    def write(name, blob, entry):
        assert len(blob) <= MAX_BYTES, f'{name} is {len(blob)} bytes'
        with open(os.path.join(OUT, name), 'wb') as f:
            f.write(blob)
        files[name] = {**entry, 'bytes': len(blob), 'sha256': hashlib.sha256(blob).hexdigest()}

    # The gadget checkpoints: a genuine torch.save zip of a tiny state dict ('w', 'n'), whose data.pkl gets one
    # more key 'x' whose value is a call. A reader must refuse the file, naming the global, and run nothing.
    base = torch_save_bytes(tiny_state_dict())  # a buffer: torch 1.13 names the top folder 'archive'
    entries = zip_entries(base)
    pkl = dict((n.split('/', 1)[1], d) for n, d in entries)['data.pkl']
    sh = f'touch {MARKER}'
    gadgets = {
        'os_system.pth': ('os', 'system', binunicode(sh) + b'\x85'),  # TUPLE1
        'eval.pth': ('builtins', 'eval', binunicode(f"__import__('os').system('{sh}')") + b'\x85'),
        'popen.pth': ('subprocess', 'Popen', b']' + b'(' + binunicode('touch') + binunicode(MARKER) + b'e' + b'\x85'),  # [..] APPENDS
    }
    for name, (mod, fn, args) in gadgets.items():
        evil = with_gadget(pkl, 'x', gadget(mod, fn, args))
        found = globals_of(evil)  # static check only
        assert f'{mod}.{fn}' in found, found
        blob = rezip(entries, 'archive', {'data.pkl': evil})
        write(name, blob, {
            'kind': 'torch-zip', 'zip_top_folder': 'archive', 'expect': 'refuse',
            'reason': f'data.pkl calls {mod}.{fn} (GLOBAL + REDUCE) after two genuine tensors; unpickling would create {MARKER}',
            'forbidden_global': f'{mod}.{fn}', 'pickle_globals': found,
        })

    # A valid small checkpoint cut at 60%: the zip's central directory is gone.
    resnet = resnet_state_dict()
    whole = torch_save_bytes(resnet)
    write('truncated.pth', whole[:int(len(whole) * 0.6)], {
        'kind': 'torch-zip (truncated)', 'expect': 'refuse', 'reason': f'first 60% of a valid {len(whole)}-byte torch.save zip (resnet.pth); no end-of-central-directory record'})

    rng = np.random.default_rng(60)
    noise = rng.integers(0, 256, 4096, dtype=np.uint8).tobytes()
    write('not_a_checkpoint.pth', noise, {'kind': 'random bytes', 'expect': 'refuse', 'reason': '4096 random bytes (seed 60): neither zip, pickle, npy nor safetensors'})

    write('resnet.pth', whole, {
        'kind': 'torch-zip', 'zip_top_folder': 'archive', 'expect': 'load, then refuse as not BiSeNetV2',
        'reason': 'a valid checkpoint of another network (torchvision ResNet key names): no detail./segment./bga./head. keys',
        'tensors': state_dict_info(resnet)})

    legacy = legacy_save_bytes(tiny_state_dict())
    write('legacy.pth', legacy, {
        'kind': 'torch legacy (pre-1.6, not a zip)', 'expect': 'refuse (or load, if legacy is supported)',
        'reason': 'torch.save(..., _use_new_zipfile_serialization=False): pickled magic number 0x1950a86a20f9469cfc6c, '
                  'protocol version, sys info, then the object pickle, then raw storages',
        'tensors': state_dict_info(tiny_state_dict())})

    st = safetensors_tensors()
    meta = {'format': 'pt', 'note': 'bisenet-port hostile fixtures'}
    write('tiny.safetensors', safetensors_bytes(st, meta), {
        'kind': 'safetensors', 'expect': 'load', 'metadata': meta,
        'reason': 'F32, F16 (incl. 65504 and a subnormal), BF16 (incl. 1e30), I64 (incl. 2^40 and 2^53-1), F64, a 0-d scalar; header padded with spaces to 8',
        'tensors': {k: tensor_info(v if v.dtype == torch.bfloat16 else v.numpy()) for k, v in sorted(st.items())}})

    for name, a in npy_arrays().items():
        buf = io.BytesIO()
        np.save(buf, a, allow_pickle=False)
        blob = buf.getvalue()
        big = a.dtype.byteorder == '>'
        assert (b"'fortran_order': True" in blob) == (name.endswith('_f.npy'))
        write(name, blob, {
            'kind': 'npy', 'descr': a.dtype.str, 'fortran_order': bool(a.flags.f_contiguous and not a.flags.c_contiguous),
            'expect': 'refuse (or load, if big-endian is supported; never misread)' if big else 'load',
            'reason': 'big-endian float32' if big else ('Fortran order: values below are in C (row-major) order'
                                                        if name.endswith('_f.npy') else 'C order'),
            'tensors': {'array': {**tensor_info(a), 'dtype': a.dtype.name}}})

    expected = {
        'about': 'made by scripts/golden/make_hostile.py (PyTorch ' + torch.__version__ + ', numpy ' + np.__version__ + '). '
                 'Tensor values are listed in C (row-major) logical order; "first" = first 6, "values" = all when <= 64, '
                 '"first_bits" = first 6 raw uint16 patterns of float16/bfloat16 tensors; '
                 'int64 values stay within 2^53. The gadget files must never be unpickled by anything.',
        'marker_file': MARKER,
        'files': dict(sorted(files.items())),
    }
    with open(os.path.join(OUT, 'expected.json'), 'w') as f:
        json.dump(expected, f, indent=1)
        f.write('\n')
    for name in sorted(files):
        print(f'  {name:24s} {files[name]["bytes"]:7d} bytes  {files[name]["expect"]}')


if __name__ == '__main__':
    main()
