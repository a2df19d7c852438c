"""The seed notebook's way of predicting, kept as the benchmark's reference point (not product code).

pandas reads the whole CSV, a Dataset builds one tensor per row, DataLoader(batch_size=128), argmax,
and pandas writes the submission.
Usage: python -m bench.seed_way TEST_CSV CHECKPOINT OUTPUT
"""

import sys

import pandas as pd
import torch
from torch.utils.data import DataLoader, Dataset

from core.model.checkpoint import load_checkpoint


class DigitDataset(Dataset):
    def __init__(self, frame: pd.DataFrame, mean: float, std: float):
        self.frame, self.mean, self.std = frame, mean, std

    def __len__(self):
        return len(self.frame)

    def __getitem__(self, index):
        row = torch.tensor(self.frame.iloc[index].values, dtype=torch.float32).view(1, 28, 28)
        return (row / 255.0 - self.mean) / self.std


def main(test_csv: str, checkpoint: str, output: str) -> None:
    ckpt = load_checkpoint(checkpoint)
    model = ckpt.model("cpu")
    frame = pd.read_csv(test_csv)
    loader = DataLoader(DigitDataset(frame, ckpt.spec.mean, ckpt.spec.std), batch_size=128, shuffle=False)
    predictions = []
    with torch.no_grad():
        for images in loader:
            predictions.extend(model(images).argmax(dim=1).tolist())
    pd.DataFrame({"ImageId": range(1, len(predictions) + 1), "Label": predictions}).to_csv(output, index=False)


if __name__ == "__main__":
    main(*sys.argv[1:4])
