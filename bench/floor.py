"""The plain floor for batch prediction (not product code): pyarrow parses the whole file to uint8,
then a channels_last batch-512 forward pass of the same network, argmax. No validation, no output.
Usage: python -m bench.floor TEST_CSV CHECKPOINT
"""

import sys

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import torch

from core.model.checkpoint import load_checkpoint
from core.model.devices import configure_threads


def main(test_csv: str, checkpoint: str) -> None:
    configure_threads()
    ckpt = load_checkpoint(checkpoint)
    model = ckpt.model("cpu").to(memory_format=torch.channels_last)
    names = [f"pixel{i}" for i in range(ckpt.spec.num_pixels)]
    table = pacsv.read_csv(test_csv, convert_options=pacsv.ConvertOptions(
        column_types={name: pa.uint8() for name in names}, include_columns=names))
    pixels = np.concatenate([np.asarray(b.to_tensor(row_major=True)) for b in table.to_batches()])
    images = torch.from_numpy(pixels).view(-1, *ckpt.spec.input_shape)
    labels = []
    with torch.inference_mode():
        for start in range(0, len(images), 512):
            x = images[start:start + 512].float().div_(255.0).sub_(ckpt.spec.mean).div_(ckpt.spec.std)
            labels.append(model(x.contiguous(memory_format=torch.channels_last)).argmax(dim=1))
    print(int(torch.cat(labels).shape[0]))


if __name__ == "__main__":
    main(*sys.argv[1:3])
