#!/usr/bin/python3
"""make_augment_ref.py: fixtures/augment_geometry.h5, torchvision's outputs
for --augment rotate/zoom/shear/warp, checked by tests/test_augment.c.

One random float image x (3, 13, 17: odd and even, not square, so a swapped
axis or a half-pixel shift shows) and, per case, the parameters
(angle, scale, shear, warp_x, warp_y) and torchvision 0.14's output y on the
float32 tensor with bilinear interpolation and fill=None (grid_sample's zeros
padding, align_corners=False):
  - angle/scale/shear: F.affine(x, angle=-angle, translate=(0, 0),
    scale=scale, shear=(shear, 0)) (affine's angle is clockwise, ours
    counter-clockwise like F.rotate; rotation-only cases use F.rotate(angle)),
  - warp: F.perspective(x, startpoints, endpoints) with endpoints the image
    corners and startpoints fastai's warp corners (the points each output
    corner is sampled from), in torchvision's pixel frame (pixel j covers
    [j, j+1)).
The composition (all four at once, one resampling) cannot be one
torchvision call, so it is checked on a linear ramp, which bilinear sampling
reproduces exactly: torchvision's two steps F.perspective(F.affine(ramp))
must equal our single map wherever neither step touched the border
(`composite_mask`: the same two steps on an all-ones image give 1).
    /usr/bin/python3 tests/reference/make_augment_ref.py
"""
import os

import h5py
import numpy as np
import torch
import torchvision.transforms.functional as F
from torchvision.transforms import InterpolationMode

BIL = InterpolationMode.BILINEAR
C, H, W = 3, 13, 17
CASES = [  # angle, scale, shear, warp_x, warp_y
    (30.0, 1.0, 0.0, 0.0, 0.0),
    (-17.5, 1.0, 0.0, 0.0, 0.0),
    (0.0, 0.7, 0.0, 0.0, 0.0),
    (0.0, 1.4, 0.0, 0.0, 0.0),
    (0.0, 1.0, 20.0, 0.0, 0.0),
    (0.0, 1.0, -12.0, 0.0, 0.0),
    (25.0, 0.8, 10.0, 0.0, 0.0),
    (-40.0, 1.25, -30.0, 0.0, 0.0),
    (0.0, 1.0, 0.0, 0.2, 0.0),
    (0.0, 1.0, 0.0, 0.0, -0.15),
    (0.0, 1.0, 0.0, 0.1, 0.25),
    (0.0, 1.0, 0.0, -0.3, 0.3),
]

COMPOSITE = [
    (25.0, 0.8, 10.0, 0.15, -0.1),
    (-35.0, 1.2, -15.0, -0.2, 0.2),
]


def perspective(t, wx, wy):
    q = [(-1 - wy, -1 - wx), (1 + wy, -1 + wx), (1 - wy, 1 - wx), (-1 + wy, 1 + wx)]  # TL TR BR BL
    start = [[(px + 1) * W / 2, (py + 1) * H / 2] for px, py in q]
    end = [[0, 0], [W, 0], [W, H], [0, H]]
    return F.perspective(t, start, end, interpolation=BIL)


def two_steps(t, angle, scale, shear, wx, wy):
    t = F.affine(t, angle=-angle, translate=[0, 0], scale=scale, shear=[shear, 0.0], interpolation=BIL)
    return perspective(t, wx, wy)


def reference(x, angle, scale, shear, wx, wy):
    t = torch.from_numpy(x)
    if wx or wy:
        assert angle == 0 and scale == 1 and shear == 0
        return perspective(t, wx, wy).numpy()
    if scale == 1 and shear == 0:
        return F.rotate(t, angle, interpolation=BIL).numpy()
    return F.affine(t, angle=-angle, translate=[0, 0], scale=scale, shear=[shear, 0.0], interpolation=BIL).numpy()


def main():
    rng = np.random.default_rng(18)
    x = rng.random((C, H, W), dtype=np.float32)
    ys = np.stack([reference(x, *c) for c in CASES]).astype(np.float32)
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "augment_geometry.h5")
    with h5py.File(out, "w") as f:
        f["x"] = x
        f["cases"] = np.array(CASES, dtype=np.float64)
        f["y"] = ys
        i, j = np.mgrid[0:H, 0:W]
        ramp = (0.1 + 0.05 * i + 0.03 * j).astype(np.float32)[None]
        f["ramp"] = ramp
        f["composite_cases"] = np.array(COMPOSITE, dtype=np.float64)
        f["composite_y"] = np.stack([two_steps(torch.from_numpy(ramp), *c).numpy() for c in COMPOSITE])
        ones = torch.ones(1, H, W)
        f["composite_mask"] = np.stack([(np.abs(two_steps(ones, *c).numpy() - 1) < 1e-6).astype(np.uint8)
                                        for c in COMPOSITE])
    print(f"wrote {out}: {len(CASES)} cases")


if __name__ == "__main__":
    main()
