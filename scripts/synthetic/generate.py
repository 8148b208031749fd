#!/usr/bin/env python3
"""Synthetic street scenes with Cityscapes' 19 train-id label maps, seeded and deterministic.

    python3 scripts/synthetic/generate.py --seed S --count N --size HxW --out DIR

writes DIR/images/NNNN.png (RGB) and DIR/labels/NNNN.png (8-bit train ids, 255 = ignore). Image i is
drawn from its own random stream (seed, i), so any subset regenerates byte for byte. The scene is a
street seen from a car: one vanishing point, and every object sized by its depth; see README.md here
for which classes look plausible and which are symbolic. Needs only numpy and Pillow.
"""
import argparse
import os
import sys

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

CLASSES = ['road', 'sidewalk', 'building', 'wall', 'fence', 'pole', 'traffic light', 'traffic sign',
           'vegetation', 'terrain', 'sky', 'person', 'rider', 'car', 'truck', 'bus', 'train',
           'motorcycle', 'bicycle']
ROAD, SIDEWALK, BUILDING, WALL, FENCE, POLE, LIGHT, SIGN, VEG, TERRAIN, SKY, PERSON, RIDER, CAR, \
    TRUCK, BUS, TRAIN, MOTO, BIKE = range(19)
IGNORE = 255

# Texture amplitude per class: (pixel noise, 1/8-scale noise, 1/32-scale noise), relative to the colour.
TEXTURE = {ROAD: (.07, .06, .10), SIDEWALK: (.03, .05, .06), BUILDING: (.02, .05, .10),
           WALL: (.05, .10, .08), FENCE: (.03, .03, .03), POLE: (.02, .02, .03), LIGHT: (.02, .02, .02),
           SIGN: (.01, .02, .02), VEG: (.16, .22, .10), TERRAIN: (.12, .16, .14), SKY: (.0, .02, .05),
           PERSON: (.03, .04, .03), RIDER: (.03, .04, .03), CAR: (.015, .02, .05), TRUCK: (.02, .03, .05),
           BUS: (.015, .02, .04), TRAIN: (.02, .03, .05), MOTO: (.02, .02, .03), BIKE: (.02, .02, .02),
           IGNORE: (.04, .06, .06)}


class Canvas:
    """An RGB image and its label map, drawn with the same primitives so that they line up exactly."""

    def __init__(self, h, w):
        self.h, self.w = h, w
        self.img = Image.new('RGB', (w, h))
        self.lab = Image.new('L', (w, h), IGNORE)
        self.di, self.dl = ImageDraw.Draw(self.img), ImageDraw.Draw(self.lab)

    def poly(self, pts, cls, col):
        pts = [(float(x), float(y)) for x, y in pts]
        self.di.polygon(pts, fill=col)
        self.dl.polygon(pts, fill=cls)

    def rect(self, x0, y0, x1, y1, cls, col):
        self.poly([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], cls, col)

    def ellipse(self, cx, cy, rx, ry, cls, col):
        box = [cx - rx, cy - ry, cx + rx, cy + ry]
        self.di.ellipse(box, fill=col)
        self.dl.ellipse(box, fill=cls)

    def ring(self, cx, cy, r, width, cls, col):
        box = [cx - r, cy - r, cx + r, cy + r]
        wd = max(1, int(round(width)))
        self.di.ellipse(box, outline=col, width=wd)
        self.dl.ellipse(box, outline=cls, width=wd)

    def line(self, pts, width, cls, col):
        pts = [(float(x), float(y)) for x, y in pts]
        wd = max(1, int(round(width)))
        self.di.line(pts, fill=col, width=wd)
        self.dl.line(pts, fill=cls, width=wd)


def colour(rng, base, spread):
    c = np.asarray(base, float) + rng.uniform(-spread, spread, 3)
    return tuple(int(v) for v in np.clip(c, 0, 255))


def grey(rng, lo, hi, tint=8):
    g = rng.uniform(lo, hi)
    return colour(rng, (g, g, g), tint)


def vivid(rng):
    """A car-paint-like colour: saturated hues, or white/black/silver."""
    if rng.random() < 0.4:
        return grey(rng, 20, 235, 6)
    hue = rng.integers(0, 6)
    c = np.array([[200, 30, 30], [30, 60, 170], [30, 130, 50], [220, 200, 40], [220, 120, 30], [120, 40, 140]][hue], float)
    return colour(rng, c * rng.uniform(0.6, 1.1), 30)


class Scene:
    """Geometry of one street: horizon, vanishing point, and the depth scale of the ground plane.

    Depth is t in (0, 1]: the ground at t lies on image row hy + t (H - hy); a height of one world unit
    (≈ 1 m) there spans t·S pixels. Every line parallel to the street passes through the vanishing point.
    """

    def __init__(self, rng, h, w):
        self.h, self.w = h, w
        self.hy = h * rng.uniform(0.36, 0.5)
        self.vx = w * rng.uniform(0.38, 0.62)
        self.S = h * rng.uniform(0.30, 0.42)

    def ground_y(self, t):
        return self.hy + t * (self.h - self.hy)

    def along(self, x_near, t):
        """x at depth t of the street-parallel line that meets the image bottom at x_near."""
        return self.vx + t * (x_near - self.vx)

    def up(self, t, units):
        return units * t * self.S


def draw_sky(c, sc, rng):
    top = np.array(colour(rng, (90, 140, 215), 40), float)
    if rng.random() < 0.25:
        top = np.array(grey(rng, 120, 190, 10), float)  # overcast
    low = np.array(colour(rng, (200, 215, 230), 25), float)
    if rng.random() < 0.15:
        low = np.array(colour(rng, (235, 170, 120), 25), float)  # dusk
    hy = int(np.ceil(sc.hy)) + 1
    for y in range(hy):
        a = y / max(1, hy - 1)
        col = tuple(int(v) for v in top * (1 - a) + low * a)
        c.rect(0, y, c.w, y + 1, SKY, col)
    for _ in range(rng.integers(0, 6)):
        cx, cy = rng.uniform(0, c.w), rng.uniform(0, sc.hy * 0.8)
        for _ in range(rng.integers(3, 8)):
            c.ellipse(cx + rng.normal(0, c.w * 0.03), cy + rng.normal(0, c.h * 0.015), rng.uniform(0.02, 0.07) * c.w,
                      rng.uniform(0.01, 0.03) * c.h, SKY, grey(rng, 215, 250, 4))


def draw_tree_crown(c, rng, cx, cy, r):
    base = colour(rng, (60, 110, 45), 25)
    for _ in range(int(np.clip(r * 1.5, 10, 60))):
        a, d = rng.uniform(0, 2 * np.pi), r * np.sqrt(rng.random())
        rr = r * rng.uniform(0.2, 0.45)
        c.ellipse(cx + d * np.cos(a), cy + 0.8 * d * np.sin(a), rr, rr * rng.uniform(0.7, 1.0), VEG,
                  colour(rng, np.array(base) * rng.uniform(0.6, 1.3), 12))


def facade(sc, x_near, t0, t1, h0, h1=None):
    """Quad of a wall standing on the street-parallel line x_near between depths t0 < t1, heights h0..h1 units."""
    b0, b1 = (sc.along(x_near, t0), sc.ground_y(t0)), (sc.along(x_near, t1), sc.ground_y(t1))
    lo = 0.0 if h1 is None else h0
    hi = h0 if h1 is None else h1
    return [(b0[0], b0[1] - sc.up(t0, lo)), (b1[0], b1[1] - sc.up(t1, lo)),
            (b1[0], b1[1] - sc.up(t1, hi)), (b0[0], b0[1] - sc.up(t0, hi))]


def facade_point(sc, x_near, t, v):
    return (sc.along(x_near, t), sc.ground_y(t) - sc.up(t, v))


def draw_buildings(c, sc, rng, x_line, t_end):
    """A row of buildings on one side, far to near, with windows, some fronted by walls or fences."""
    t = t_end
    while t < 1.3:
        t1 = t + rng.uniform(0.08, 0.35) * (t + 0.1)
        height = rng.uniform(4, 14)
        wall_col = colour(rng, rng.choice([[170, 160, 150], [150, 90, 70], [200, 190, 170], [110, 110, 120], [190, 170, 120]]), 25)
        if rng.random() < 0.12:
            t = t1 + rng.uniform(0.0, 0.05)  # a gap: what lies behind shows through
            continue
        c.poly(facade(sc, x_line, t, t1, height), BUILDING, wall_col)
        # windows: a grid in facade coordinates (depth fraction, height in units)
        floors = int(height / 3)
        cols = max(1, int((t1 - t) / 0.03))
        glass = colour(rng, rng.choice([[60, 70, 90], [120, 150, 170], [40, 40, 45]]), 15)
        frame = rng.uniform(0.2, 0.4)
        for f in range(floors):
            for k in range(cols):
                ta = t + (k + frame) * (t1 - t) / cols
                tb = t + (k + 1 - frame) * (t1 - t) / cols
                va, vb = f * 3 + 1.0, f * 3 + 2.3
                if vb > height - 0.3:
                    continue
                pts = [facade_point(sc, x_line, ta, va), facade_point(sc, x_line, tb, va),
                       facade_point(sc, x_line, tb, vb), facade_point(sc, x_line, ta, vb)]
                c.poly(pts, BUILDING, colour(rng, glass, 10))
        r = rng.random()
        if r < 0.3:
            c.poly(facade(sc, x_line, t, t1, rng.uniform(0.8, 2.2)), WALL, grey(rng, 120, 200, 12))
        elif r < 0.55:
            draw_fence(c, sc, rng, x_line, t, t1)
        t = t1


def draw_fence(c, sc, rng, x_line, t0, t1):
    col = grey(rng, 40, 170, 15) if rng.random() < 0.6 else colour(rng, (120, 90, 60), 20)
    height = rng.uniform(1.0, 1.8)
    n = max(2, int((t1 - t0) / 0.015))
    for k in range(n + 1):
        tk = t0 + k * (t1 - t0) / n
        x, y = sc.along(x_line, tk), sc.ground_y(tk)
        c.line([(x, y), (x, y - sc.up(tk, height))], max(1, sc.up(tk, 0.08)), FENCE, col)
    for v in np.linspace(0.25, 0.95, rng.integers(2, 4)) * height:
        a, b = facade_point(sc, x_line, t0, v), facade_point(sc, x_line, t1, v)
        c.line([a, b], max(1, sc.up((t0 + t1) / 2, 0.06)), FENCE, col)


def draw_ground(c, sc, rng, lines):
    """Road, sidewalks and terrain as wedges from the vanishing point. lines: x at the image bottom."""
    l_bld, l_ter, l_sw, l_road, r_road, r_sw, r_ter, r_bld = lines
    bottom = c.h + 2
    vp = (sc.vx, sc.hy)

    def wedge(x0, x1, cls, col):
        c.poly([vp, (sc.along(x0, 1 + 2 / c.h), bottom), (sc.along(x1, 1 + 2 / c.h), bottom)], cls, col)

    ter_col = colour(rng, (95, 125, 55) if rng.random() < 0.7 else (140, 115, 80), 20)
    wedge(l_bld, l_ter, TERRAIN, ter_col)
    wedge(r_ter, r_bld, TERRAIN, ter_col)
    sw_col = grey(rng, 140, 200, 12)
    wedge(l_ter, l_sw, SIDEWALK, sw_col)
    wedge(r_sw, r_ter, SIDEWALK, sw_col)
    road_col = grey(rng, 55, 110, 6)
    wedge(l_sw, r_sw, ROAD, road_col)
    # sidewalk paving: joints across the slab at regular depths, and a kerb line
    joint = tuple(int(v * 0.8) for v in sw_col)
    for t in np.geomspace(0.02, 1.0, 25):
        y = sc.ground_y(t)
        for a, b in ((l_ter, l_sw), (r_sw, r_ter)):
            c.line([(sc.along(a, t), y), (sc.along(b, t), y)], 1, SIDEWALK, joint)
    kerb = grey(rng, 170, 220, 5)
    for x in (l_sw, r_sw):
        c.line([vp, (x, c.h)], max(1, c.h * 0.006), SIDEWALK, kerb)
    # lane markings: dashed lines through the vanishing point
    paint = (235, 235, 230) if rng.random() < 0.8 else (230, 200, 60)
    lanes = rng.integers(2, 4)
    for k in range(1, lanes):
        x = l_sw + (r_sw - l_sw) * k / lanes
        t = 0.04
        while t < 1.0:
            t1 = t + 0.06 * t + 0.01
            w0, w1 = max(1, sc.up(t, 0.12)), max(1, sc.up(t1, 0.12))
            p0, p1 = (sc.along(x, t), sc.ground_y(t)), (sc.along(x, t1), sc.ground_y(t1))
            c.poly([(p0[0] - w0, p0[1]), (p0[0] + w0, p0[1]), (p1[0] + w1, p1[1]), (p1[0] - w1, p1[1])], ROAD, paint)
            t = t1 + 0.08 * t1 + 0.01
    if rng.random() < 0.35:  # a zebra crossing
        t0 = rng.uniform(0.35, 0.7)
        t1 = t0 + 0.06
        n = 10
        for k in range(n):
            xa = l_sw + (r_sw - l_sw) * (k + 0.2) / n
            xb = l_sw + (r_sw - l_sw) * (k + 0.7) / n
            c.poly([(sc.along(xa, t0), sc.ground_y(t0)), (sc.along(xb, t0), sc.ground_y(t0)),
                    (sc.along(xb, t1), sc.ground_y(t1)), (sc.along(xa, t1), sc.ground_y(t1))], ROAD, paint)


# ---- objects standing on the ground, each drawn at depth t and lateral image position x ----

def draw_pole(c, sc, rng, x, t, light=False, sign=False):
    col = grey(rng, 60, 160, 8)
    y = sc.ground_y(t)
    top = rng.uniform(3.8, 6) if light else rng.uniform(4.5, 7)
    w = max(1.5, sc.up(t, 0.16))
    c.rect(x - w / 2, y - sc.up(t, top), x + w / 2, y, POLE, col)
    if light:
        arm = rng.random() < 0.5
        lx = x + (sc.up(t, rng.uniform(1.5, 3)) * (1 if x < sc.vx else -1) if arm else 0)
        ly = y - sc.up(t, top - 0.2)
        if arm:
            c.line([(x, ly), (lx, ly)], max(1, sc.up(t, 0.12)), POLE, col)
        bw, bh = max(3, sc.up(t, 0.45)), max(6, sc.up(t, 1.1))
        box = (40, 40, 40) if rng.random() < 0.7 else (200, 170, 40)
        c.rect(lx - bw / 2, ly, lx + bw / 2, ly + bh, LIGHT, colour(rng, box, 10))
        lit = rng.integers(0, 3)
        for k, lamp in enumerate([(230, 40, 30), (240, 180, 30), (40, 220, 90)]):
            on = lamp if k == lit else tuple(v // 4 for v in lamp)
            c.ellipse(lx, ly + bh * (k + 0.5) / 3, bw * 0.32, bw * 0.32, LIGHT, on)
    if sign:
        sy = y - sc.up(t, rng.uniform(2.0, 3.2))
        r = max(3, sc.up(t, rng.uniform(0.35, 0.5)))
        kind = rng.integers(0, 4)
        if kind == 0:  # prohibition: red ring on white
            c.ellipse(x, sy, r, r, SIGN, (200, 30, 30))
            c.ellipse(x, sy, r * 0.7, r * 0.7, SIGN, (235, 235, 235))
        elif kind == 1:  # mandatory: blue disc, white arrow
            c.ellipse(x, sy, r, r, SIGN, (30, 70, 180))
            c.line([(x, sy + r * 0.5), (x, sy - r * 0.5)], max(1, r * 0.2), SIGN, (240, 240, 240))
        elif kind == 2:  # warning: red triangle
            c.poly([(x, sy - r), (x + r, sy + r * 0.8), (x - r, sy + r * 0.8)], SIGN, (210, 30, 30))
            c.poly([(x, sy - r * 0.5), (x + r * 0.55, sy + r * 0.55), (x - r * 0.55, sy + r * 0.55)], SIGN, (240, 240, 235))
        else:  # information: blue or yellow rectangle
            col = (30, 80, 170) if rng.random() < 0.5 else (230, 190, 40)
            c.rect(x - r * 1.1, sy - r * 0.7, x + r * 1.1, sy + r * 0.7, SIGN, col)
            c.rect(x - r * 0.7, sy - r * 0.15, x + r * 0.7, sy + r * 0.15, SIGN, (240, 240, 240))


def draw_tree(c, sc, rng, x, t):
    y = sc.ground_y(t)
    trunk = rng.uniform(1.8, 3.5)
    w = max(1.5, sc.up(t, 0.3))
    c.rect(x - w / 2, y - sc.up(t, trunk + 0.5), x + w / 2, y, VEG, colour(rng, (85, 65, 45), 15))
    r = sc.up(t, rng.uniform(1.4, 2.6))
    draw_tree_crown(c, rng, x, y - sc.up(t, trunk) - r * 0.6, r)


def draw_person(c, sc, rng, x, t, cls=PERSON, seated=False):
    """Legs, torso, arms and head; returns nothing. Riders are drawn seated by the vehicle code."""
    y = sc.ground_y(t)
    hgt = sc.up(t, rng.uniform(1.55, 1.9))
    u = hgt / 7.5  # head units
    skin = colour(rng, rng.choice([[225, 185, 150], [170, 120, 80], [110, 75, 50]]), 15)
    shirt, trousers = vivid(rng), colour(rng, rng.choice([[40, 50, 90], [50, 50, 50], [150, 130, 100]]), 20)
    if not seated:
        stride = rng.uniform(-0.6, 0.6) * u
        c.poly([(x - 0.7 * u, y - 3.6 * u), (x - 0.05 * u, y - 3.6 * u), (x - 0.3 * u + stride, y), (x - 0.9 * u + stride, y)], cls, trousers)
        c.poly([(x + 0.05 * u, y - 3.6 * u), (x + 0.7 * u, y - 3.6 * u), (x + 0.9 * u - stride, y), (x + 0.3 * u - stride, y)], cls, trousers)
        hip = y - 3.6 * u
    else:
        hip = y
    c.poly([(x - 0.85 * u, hip - 2.9 * u), (x + 0.85 * u, hip - 2.9 * u), (x + 0.75 * u, hip + 0.1 * u), (x - 0.75 * u, hip + 0.1 * u)], cls, shirt)
    for side in (-1, 1):
        c.line([(x + side * 0.85 * u, hip - 2.7 * u), (x + side * 1.2 * u, hip - 0.6 * u)], max(1, 0.45 * u), cls, shirt)
    c.ellipse(x, hip - 3.5 * u, 0.55 * u, 0.62 * u, cls, skin)
    if rng.random() < 0.6:
        c.ellipse(x, hip - 3.85 * u, 0.55 * u, 0.3 * u, cls, colour(rng, (50, 35, 25), 20))
    if rng.random() < 0.25:  # a bag
        c.rect(x + 0.8 * u, hip - 1.2 * u, x + 1.6 * u, hip - 0.1 * u, cls, colour(rng, (90, 60, 40), 30))


def draw_two_wheeler(c, sc, rng, x, t, moto, rider):
    y = sc.ground_y(t)
    u = sc.up(t, 1.0)
    face = 1 if rng.random() < 0.5 else -1
    cls = MOTO if moto else BIKE
    r = u * (0.33 if moto else 0.34)
    gap = u * (1.4 if moto else 1.05)
    x0, x1 = x - face * gap / 2, x + face * gap / 2
    frame = vivid(rng)
    if moto:
        for xx in (x0, x1):
            c.ellipse(xx, y - r, r, r, MOTO, (25, 25, 25))
            c.ellipse(xx, y - r, r * 0.45, r * 0.45, MOTO, grey(rng, 120, 180, 5))
        c.poly([(x0, y - r * 1.3), (x1, y - r * 1.6), (x1 - face * 0.2 * u, y - r * 2.6), (x - face * 0.3 * u, y - r * 2.9),
                (x0 - face * 0.15 * u, y - r * 2.4)], MOTO, frame)
        c.line([(x1, y - r), (x1 - face * 0.15 * u, y - r * 3.4)], max(1, 0.08 * u), MOTO, (60, 60, 60))
    else:
        for xx in (x0, x1):
            c.ring(xx, y - r, r, max(1, 0.07 * u), BIKE, (30, 30, 30))
        seat, bar = (x - face * 0.15 * u, y - r * 2.6), (x1 - face * 0.1 * u, y - r * 2.9)
        crank = (x, y - r)
        lw = max(1, 0.06 * u)
        c.line([(x0, y - r), crank, seat, (x0, y - r)], lw, BIKE, frame)
        c.line([crank, bar, (x1, y - r)], lw, BIKE, frame)
        c.line([seat, bar], lw, BIKE, frame)
    if rider:
        draw_person(c, sc, rng, x - face * 0.1 * u, t - 0.0001, cls=RIDER, seated=True)
        # the rider's body sits above the seat: shift it up by drawing legs down to the pedals
        c.line([(x - face * 0.1 * u, y - r * 2.6), (x, y - r * 0.9)], max(1, 0.2 * u), RIDER, colour(rng, (40, 40, 60), 15))


def draw_vehicle(c, sc, rng, cls, x, t, side_view):
    y = sc.ground_y(t)
    u = sc.up(t, 1.0)
    body = vivid(rng) if cls == CAR else colour(rng, rng.choice([[200, 200, 200], [180, 40, 30], [230, 190, 40], [40, 90, 160], [60, 140, 70]]), 25)
    glass = colour(rng, (55, 65, 80), 12)
    tyre = (22, 22, 22)
    if cls == TRAIN:
        length, hgt = rng.uniform(10, 22), rng.uniform(3.2, 3.8)
        x0, x1 = x - length * u / 2, x + length * u / 2
        c.rect(x0, y - hgt * u, x1, y - 0.4 * u, TRAIN, body)
        c.rect(x0, y - 0.5 * u, x1, y, TRAIN, (50, 50, 50))
        k = x0 + 0.8 * u
        while k + 1.2 * u < x1:
            c.rect(k, y - hgt * 0.82 * u, k + 1.2 * u, y - hgt * 0.48 * u, TRAIN, glass)
            k += 1.8 * u
        c.rect(x0, y - hgt * 0.3 * u, x1, y - hgt * 0.22 * u, TRAIN, colour(rng, (230, 230, 230), 10))
        return
    if side_view:
        length, hgt = {CAR: (4.3, 1.45), TRUCK: (8.0, 3.3), BUS: (11.0, 3.1)}[cls]
        face = 1 if rng.random() < 0.5 else -1
        x0, x1 = x - length * u / 2, x + length * u / 2
        wr = 0.35 * u if cls == CAR else 0.5 * u
        if cls == CAR:
            c.rect(x0, y - 0.95 * u, x1, y - 0.25 * u, CAR, body)
            cab = [(x0 + 0.9 * u, y - 0.95 * u), (x0 + 1.4 * u, y - hgt * u), (x1 - 1.3 * u, y - hgt * u), (x1 - 0.6 * u, y - 0.95 * u)]
            c.poly(cab, CAR, body)
            c.poly([(p[0] + (0.15 * u if i in (0, 1) else -0.15 * u), p[1] + (0.08 * u if i in (1, 2) else 0)) for i, p in enumerate(cab)], CAR, glass)
        elif cls == TRUCK:
            cab_x = x1 - 2.2 * u if face > 0 else x0
            c.rect(x0, y - hgt * u, x1 - 2.3 * u, y - 0.4 * u, TRUCK, colour(rng, (210, 210, 205), 25)) if face > 0 else \
                c.rect(x0 + 2.3 * u, y - hgt * u, x1, y - 0.4 * u, TRUCK, colour(rng, (210, 210, 205), 25))
            c.rect(cab_x, y - 2.6 * u, cab_x + 2.2 * u, y - 0.4 * u, TRUCK, body)
            c.rect(cab_x + 0.3 * u, y - 2.4 * u, cab_x + 1.9 * u, y - 1.6 * u, TRUCK, glass)
        else:
            c.rect(x0, y - hgt * u, x1, y - 0.35 * u, BUS, body)
            k = x0 + 0.5 * u
            while k + 1.1 * u < x1 - 0.3 * u:
                c.rect(k, y - hgt * 0.9 * u, k + 1.1 * u, y - hgt * 0.5 * u, BUS, glass)
                k += 1.4 * u
            door = x0 + 2 * u if face < 0 else x1 - 3 * u
            c.rect(door, y - hgt * 0.9 * u, door + 1.0 * u, y - 0.4 * u, BUS, glass)
        for xx in (x0 + 0.2 * length * u, x1 - 0.2 * length * u):
            c.ellipse(xx, y - wr, wr, wr, cls, tyre)
            c.ellipse(xx, y - wr, wr * 0.5, wr * 0.5, cls, grey(rng, 130, 190, 5))
        return
    # seen from behind (or the front), in a lane
    width, hgt = {CAR: (1.8, 1.45), TRUCK: (2.5, 3.4), BUS: (2.55, 3.1)}[cls]
    x0, x1 = x - width * u / 2, x + width * u / 2
    c.rect(x0 + 0.1 * u, y - 0.35 * u, x0 + 0.45 * u, y, cls, tyre)
    c.rect(x1 - 0.45 * u, y - 0.35 * u, x1 - 0.1 * u, y, cls, tyre)
    if cls == CAR:
        c.rect(x0, y - 0.95 * u, x1, y - 0.25 * u, CAR, body)
        c.poly([(x0 + 0.15 * u, y - 0.95 * u), (x0 + 0.35 * u, y - hgt * u), (x1 - 0.35 * u, y - hgt * u), (x1 - 0.15 * u, y - 0.95 * u)], CAR, body)
        c.poly([(x0 + 0.3 * u, y - 1.0 * u), (x0 + 0.45 * u, y - (hgt - 0.08) * u), (x1 - 0.45 * u, y - (hgt - 0.08) * u), (x1 - 0.3 * u, y - 1.0 * u)], CAR, glass)
        for xx in (x0 + 0.1 * u, x1 - 0.4 * u):
            c.rect(xx, y - 0.85 * u, xx + 0.3 * u, y - 0.7 * u, CAR, (200, 30, 30))
        c.rect(x - 0.25 * u, y - 0.6 * u, x + 0.25 * u, y - 0.48 * u, CAR, (230, 230, 230))
    elif cls == TRUCK:
        c.rect(x0, y - hgt * u, x1, y - 0.35 * u, TRUCK, colour(rng, (210, 210, 205), 25))
        c.line([(x, y - hgt * u), (x, y - 0.4 * u)], max(1, 0.05 * u), TRUCK, (120, 120, 120))
        c.rect(x0, y - 0.6 * u, x1, y - 0.35 * u, TRUCK, (60, 60, 60))
    else:
        c.rect(x0, y - hgt * u, x1, y - 0.3 * u, BUS, body)
        c.rect(x0 + 0.15 * u, y - (hgt - 0.2) * u, x1 - 0.15 * u, y - 1.5 * u, BUS, glass)
        c.rect(x0 + 0.5 * u, y - (hgt - 0.05) * u, x1 - 0.5 * u, y - (hgt - 0.35) * u, BUS, (20, 20, 20))
        for xx in (x0 + 0.1 * u, x1 - 0.4 * u):
            c.rect(xx, y - 0.9 * u, xx + 0.3 * u, y - 0.6 * u, BUS, (220, 200, 80))


def draw_clutter(c, sc, rng, x, t):
    """Objects Cityscapes leaves unlabelled (bins, bollards, boxes): ignore."""
    y, u = sc.ground_y(t), sc.up(t, 1.0)
    w, h = u * rng.uniform(0.3, 0.8), u * rng.uniform(0.5, 1.2)
    c.rect(x - w / 2, y - h, x + w / 2, y, IGNORE, colour(rng, rng.choice([[40, 90, 40], [90, 90, 95], [150, 100, 50]]), 20))


def render(rng, h, w):
    c, sc = Canvas(h, w), Scene(rng, h, w)
    draw_sky(c, sc, rng)
    # the ground far away (behind gaps and beside the end of the street): open land
    c.rect(-2, sc.hy, w + 2, h + 2, TERRAIN, colour(rng, (110, 125, 70), 25))
    # background: far trees or a skyline at the end of the street
    t_end = rng.uniform(0.03, 0.12)
    for _ in range(rng.integers(0, 8)):
        draw_tree_crown(c, rng, rng.uniform(0, w), sc.hy - rng.uniform(0, 0.06) * h, rng.uniform(0.02, 0.06) * h)
    # the street's lines at the image bottom (x), left to right
    road_l, road_r = w * rng.uniform(-0.05, 0.3), w * rng.uniform(0.7, 1.05)
    sw = w * rng.uniform(0.25, 0.6)
    ter_l = w * (rng.uniform(0.2, 0.6) if rng.random() < 0.5 else 0)
    ter_r = w * (rng.uniform(0.2, 0.6) if rng.random() < 0.5 else 0)
    lines = [road_l - sw - ter_l - w * 0.6, road_l - sw - ter_l, road_l - sw, road_l, road_r, road_r + sw,
             road_r + sw + ter_r, road_r + sw + ter_r + w * 0.6]
    x_bld_l, x_bld_r = lines[1], lines[6]
    # end of street: buildings across
    xe0, xe1 = sc.along(x_bld_l, t_end), sc.along(x_bld_r, t_end)
    k = xe0
    while k < xe1:
        bw = (xe1 - xe0) * rng.uniform(0.15, 0.5)
        c.rect(k, sc.ground_y(t_end) - sc.up(t_end, rng.uniform(4, 12)), k + bw, sc.ground_y(t_end) + 1, BUILDING,
               colour(rng, (160, 150, 140), 35))
        k += bw
    for side in (0, 1):
        if rng.random() < 0.85:
            draw_buildings(c, sc, rng, x_bld_l if side == 0 else x_bld_r, t_end)
        else:  # a park: a hedge of trees instead of buildings
            for tt in np.geomspace(t_end, 1.2, 12):
                draw_tree(c, sc, rng, sc.along(x_bld_l if side == 0 else x_bld_r, tt), tt)
    draw_ground(c, sc, rng, lines)
    for x_line in (lines[2], lines[5]):  # railings between sidewalk and verge
        if rng.random() < 0.35:
            t0 = rng.uniform(0.1, 0.5)
            draw_fence(c, sc, rng, x_line, t0, min(1.2, t0 + rng.uniform(0.2, 0.8)))

    # objects, far to near
    objs = []

    def lane_x(t, frac):
        return sc.along(lines[3] + (lines[4] - lines[3]) * frac, t)

    def walk_x(t, side, frac):
        a, b = (lines[1], lines[3]) if side == 0 else (lines[4], lines[6])
        return sc.along(a + (b - a) * frac, t)

    tr = lambda lo=0.18, hi=0.95: float(rng.uniform(lo, hi))
    for _ in range(rng.integers(2, 7)):
        objs.append((tr(), 'pole', rng.integers(0, 2)))
    for _ in range(rng.integers(1, 4)):
        objs.append((tr(0.1, 0.42), 'light', rng.integers(0, 2)))
    for _ in range(rng.integers(1, 4)):
        objs.append((tr(0.2, 0.9), 'sign', rng.integers(0, 2)))
    for _ in range(rng.integers(0, 5)):
        objs.append((tr(0.15, 0.8), 'tree', rng.integers(0, 2)))
    for _ in range(rng.integers(1, 7)):
        objs.append((tr(0.15, 0.85), 'person', rng.integers(0, 2)))
    for _ in range(rng.integers(0, 3)):
        objs.append((tr(0.25, 0.95), 'clutter', rng.integers(0, 2)))
    for _ in range(rng.integers(0, 3)):
        objs.append((tr(0.25, 0.95), 'parked-bike', rng.integers(0, 2)))
    for _ in range(rng.integers(1, 6)):
        objs.append((tr(0.15, 0.85), 'car', 0))
    for kind, p in (('truck', 0.45), ('bus', 0.4), ('train', 0.18), ('rider', 0.6), ('moto', 0.5)):
        for _ in range(rng.integers(1, 3) if rng.random() < p else 0):
            objs.append((tr(0.15, 0.8), kind, 0))
    objs.sort(key=lambda o: o[0])
    for t, kind, side in objs:
        if kind in ('pole', 'light', 'sign'):
            x = walk_x(t, side, rng.uniform(0.75, 0.97) if side == 0 else rng.uniform(0.03, 0.25))
            draw_pole(c, sc, rng, x, t, light=kind == 'light', sign=kind == 'sign' or (kind == 'pole' and rng.random() < 0.3))
        elif kind == 'tree':
            draw_tree(c, sc, rng, walk_x(t, side, rng.uniform(0.2, 0.7)), t)
        elif kind == 'person':
            if rng.random() < 0.2:
                draw_person(c, sc, rng, lane_x(t, rng.uniform(0.1, 0.9)), t)
            else:
                draw_person(c, sc, rng, walk_x(t, side, rng.uniform(0.3, 0.95)), t)
        elif kind == 'clutter':
            draw_clutter(c, sc, rng, walk_x(t, side, rng.uniform(0.3, 0.95)), t)
        elif kind == 'parked-bike':
            draw_two_wheeler(c, sc, rng, walk_x(t, side, rng.uniform(0.5, 0.95)), t, moto=rng.random() < 0.3, rider=False)
        elif kind in ('rider', 'moto'):
            draw_two_wheeler(c, sc, rng, lane_x(t, rng.uniform(0.05, 0.95)), t, moto=kind == 'moto' or rng.random() < 0.3,
                             rider=kind == 'rider' or rng.random() < 0.5)
        elif kind == 'train':
            draw_vehicle(c, sc, rng, TRAIN, lane_x(t, rng.uniform(0.2, 0.8)), t, True)
        else:
            cls = {'car': CAR, 'truck': TRUCK, 'bus': BUS}[kind]
            side_view = rng.random() < 0.3
            draw_vehicle(c, sc, rng, cls, lane_x(t, rng.uniform(0.1, 0.9)), t, side_view)
    if rng.random() < 0.3:  # the ego vehicle's bonnet: void in Cityscapes
        top = h * rng.uniform(0.88, 0.95)
        c.poly([(-2, h + 2), (-2, top + h * 0.04), (w * 0.3, top), (w * 0.7, top), (w + 2, top + h * 0.04), (w + 2, h + 2)], IGNORE,
               colour(rng, (40, 40, 45), 20))
    return finish(c, rng)


def noise_field(rng, h, w, step):
    small = rng.normal(0, 1, (max(2, h // step + 2), max(2, w // step + 2))).astype(np.float32)
    return np.asarray(Image.fromarray(small, mode='F').resize((w, h), Image.BILINEAR), np.float32)


def finish(c, rng):
    """Texture by class, shadows, lighting, sensor noise and blur (the label map is untouched)."""
    h, w = c.h, c.w
    img = np.asarray(c.img, np.float32)
    lab = np.asarray(c.lab, np.uint8)
    amp = np.zeros((256, 3), np.float32)
    for cls, a in TEXTURE.items():
        amp[cls] = a
    a = amp[lab]
    tex = a[..., 0] * rng.normal(0, 1, (h, w)).astype(np.float32) + a[..., 1] * noise_field(rng, h, w, 8) \
        + a[..., 2] * noise_field(rng, h, w, 32)
    img = img * (1 + tex[..., None])
    # shadows of things outside the picture, on the ground
    shade = np.ones((h, w), np.float32)
    sh = Image.new('L', (w, h), 0)
    d = ImageDraw.Draw(sh)
    for _ in range(rng.integers(0, 4)):
        y0 = rng.uniform(0.5, 0.9) * h
        x0 = rng.uniform(-0.2, 0.9) * w
        d.polygon([(x0, y0), (x0 + rng.uniform(0.1, 0.5) * w, y0), (x0 + rng.uniform(0.2, 0.7) * w, h), (x0 - rng.uniform(0, 0.3) * w, h)], fill=255)
    shade -= np.asarray(sh, np.float32) / 255 * rng.uniform(0.25, 0.5)
    img *= shade[..., None]
    # lighting: exposure, colour temperature, a brightness gradient
    gain = rng.uniform(0.6, 1.3)
    tint = rng.uniform(0.88, 1.12, 3).astype(np.float32)
    grad = (1 + rng.uniform(-0.25, 0.25) * (np.linspace(-1, 1, w, dtype=np.float32)[None, :]))
    img = img * gain * tint[None, None, :] * grad[..., None]
    img = np.clip(255 * (np.clip(img, 0, 255) / 255) ** rng.uniform(0.8, 1.25), 0, 255)
    img += rng.normal(0, rng.uniform(0, 6), img.shape).astype(np.float32)
    out = Image.fromarray(np.clip(img + 0.5, 0, 255).astype(np.uint8), 'RGB')
    if rng.random() < 0.6:
        out = out.filter(ImageFilter.GaussianBlur(radius=float(rng.uniform(0.3, 1.1))))
    return out, Image.fromarray(lab, 'L')


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--seed', type=int, required=True)
    ap.add_argument('--count', type=int, required=True)
    ap.add_argument('--size', default='256x512', help='HxW (default 256x512)')
    ap.add_argument('--out', required=True)
    ap.add_argument('--start', type=int, default=0, help='index of the first image (to regenerate a subset)')
    a = ap.parse_args(argv)
    try:
        h, w = (int(v) for v in a.size.lower().split('x'))
        assert 32 <= h <= 8192 and 32 <= w <= 8192
    except (ValueError, AssertionError):
        sys.exit(f'error: --size must be HxW with 32..8192 each, got {a.size!r}')
    os.makedirs(os.path.join(a.out, 'images'), exist_ok=True)
    os.makedirs(os.path.join(a.out, 'labels'), exist_ok=True)
    for i in range(a.start, a.start + a.count):
        img, lab = render(np.random.default_rng([a.seed, i]), h, w)
        img.save(os.path.join(a.out, 'images', f'{i:04d}.png'), optimize=False, compress_level=9)
        lab.save(os.path.join(a.out, 'labels', f'{i:04d}.png'), optimize=False, compress_level=9)


if __name__ == '__main__':
    main()
