"""Size of the deployment package a Python team ships for the FastAPI + Mangum contenders: the
installed files of the named distributions and of everything they require (from the venv's
metadata), zipped with deflate as `sam build` would. Prints JSON {label: bytes}."""
import io
import json
import re
import sys
import zipfile
from importlib import metadata


def closure(roots):
    seen, todo = set(), list(roots)
    while todo:
        name = re.sub(r"[-_.]+", "-", todo.pop()).lower()
        if name in seen:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        seen.add(name)
        for req in dist.requires or []:
            if "extra ==" in req:
                continue
            todo.append(re.split(r"[ ;<>=!~\[(]", req, maxsplit=1)[0])
    return seen


def zipped_size(names):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name in sorted(names):
            dist = metadata.distribution(name)
            for f in dist.files or []:
                path = f.locate()
                if path.is_file() and "__pycache__" not in str(f):
                    z.write(path, str(f))
    return buf.tell()


if __name__ == "__main__":
    out = {}
    for spec in sys.argv[1:]:
        label, roots = spec.split("=")
        out[label] = zipped_size(closure(roots.split(",")))
    print(json.dumps(out))
