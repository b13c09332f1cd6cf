"""``inverse-ising images``: binarise images into a spins .npz (and optionally a preview PNG)."""
import argparse

from .common import check_outputs

PREVIEW_MAX = 64


def _threshold(text):
    key = text.strip().lower()
    if key in ("otsu", "mean", "median"):
        return key
    try:
        value = float(key)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected otsu, mean, median or a grey level in [0, 255], got {text!r}") from None
    if not 0.0 <= value <= 255.0:
        raise argparse.ArgumentTypeError(f"a grey-level threshold must lie in [0, 255], got {text!r}")
    return value


def _crop(text):
    key = text.strip().lower()
    if key in ("center", "centre"):
        return "center"
    if key == "none":
        return None
    parts = [p.strip() for p in key.split(",")]
    try:
        box = tuple(int(p) for p in parts)
    except ValueError:
        box = ()
    if len(box) != 4:
        raise argparse.ArgumentTypeError(
            f"expected center, none or LEFT,TOP,RIGHT,BOTTOM (four integers, pixels), got {text!r}")
    left, top, right, bottom = box
    if left < 0 or top < 0 or right <= left or bottom <= top:
        raise argparse.ArgumentTypeError(
            f"crop box needs 0 <= LEFT < RIGHT and 0 <= TOP < BOTTOM, got {text!r}")
    return box


def _size(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "images", help="binarise images into spins (.npz)",
        description="Convert images to ±1 spin configurations: grayscale, crop, resize to SIZE×SIZE "
                    "(area averaging), threshold (bright = +1). Writes a spins .npz with shape [SIZE, SIZE].")
    parser.add_argument("inputs", nargs="+", metavar="IMAGE_OR_FOLDER",
                        help="image files and/or folders (a folder's files are taken in name order)")
    parser.add_argument("--size", type=_size, default=32, help="pixels per side after resizing (default 32)")
    parser.add_argument("--threshold", type=_threshold, default="otsu",
                        help="otsu (per image, default), mean, median or a grey level in [0, 255]; "
                             "pixels brighter than it are +1")
    parser.add_argument("--crop", type=_crop, default="center",
                        help="center (largest centred square, default), none, or LEFT,TOP,RIGHT,BOTTOM in pixels")
    parser.add_argument("--invert", action="store_true", help="dark pixels become +1 instead of bright ones")
    parser.add_argument("-o", "--output", required=True, help="output spins file (.npz)")
    parser.add_argument("--png", metavar="PREVIEW.png", default=None,
                        help=f"also write a preview PNG of the binarised images (at most {PREVIEW_MAX}, tiled)")
    parser.add_argument("--force", action="store_true", help="overwrite existing output files")
    parser.set_defaults(run=run)


def run(args):
    from ..images import load_images, spins_to_png

    check_outputs(args.force, (args.output, ".npz"), (args.png, ".png"))
    inputs = args.inputs[0] if len(args.inputs) == 1 else args.inputs
    ds = load_images(inputs, size=args.size, crop=args.crop, threshold=args.threshold, invert=args.invert)
    ds.save(args.output, force=args.force)
    print(f"wrote {ds.n_samples} image{'s' if ds.n_samples != 1 else ''} as {args.size}x{args.size} spins to "
          f"{args.output} (fraction of +1 pixels {ds.activity().mean():.3f})")
    skipped = ds.meta.get("skipped")
    if skipped:
        print(f"  skipped {len(skipped)} unreadable file{'s' if len(skipped) != 1 else ''}: {', '.join(skipped[:5])}"
              f"{' ...' if len(skipped) > 5 else ''}")
    if args.png is not None:
        n = min(ds.n_samples, PREVIEW_MAX)
        spins_to_png(ds.spins[:n], args.png, shape=ds.shape, force=args.force)
        print(f"wrote a preview of {n} image{'s' if n != 1 else ''} to {args.png}")
    return 0
