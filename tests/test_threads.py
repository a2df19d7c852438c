"""The thread budget: one owner of KAGGLE_JOB_THREADS / OMP_NUM_THREADS, shared by torch and pyarrow."""

from __future__ import annotations

import pytest
import torch

from core.base.errors import BadInput
from core.base.threads import available_cores, thread_budget
from core.model.devices import configure_threads


@pytest.fixture
def no_thread_variables(monkeypatch):
    for name in ("KAGGLE_JOB_THREADS", "OMP_NUM_THREADS"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_without_variables_every_allowed_core(no_thread_variables):
    assert thread_budget() == available_cores() >= 1


def test_kaggle_job_threads_wins_over_omp(no_thread_variables):
    no_thread_variables.setenv("OMP_NUM_THREADS", str(available_cores()))
    no_thread_variables.setenv("KAGGLE_JOB_THREADS", "1")
    assert thread_budget() == 1


@pytest.mark.parametrize("text, budget", [("1", 1), ("0", 1), ("-1", 1), (" 2 ", 2)])
def test_omp_num_threads_is_at_least_one(no_thread_variables, text, budget):
    no_thread_variables.setenv("OMP_NUM_THREADS", text)
    assert thread_budget() == budget


def test_a_budget_past_the_allowed_cores_is_capped_there(no_thread_variables):
    cores = available_cores()
    for asked, given in ((cores, cores), (cores + 1, cores), (100_000, cores)):
        no_thread_variables.setenv("KAGGLE_JOB_THREADS", str(asked))
        assert thread_budget() == given


@pytest.mark.parametrize("text", ["0", "-1"])
def test_kaggle_job_threads_below_one_is_refused(no_thread_variables, text):
    no_thread_variables.setenv("KAGGLE_JOB_THREADS", text)  # 1 is taken: test_kaggle_job_threads_wins_over_omp
    with pytest.raises(BadInput, match=rf"KAGGLE_JOB_THREADS='{text}': expected a whole number of threads, 1 or more"):
        thread_budget()


@pytest.mark.parametrize("text", ["two", "1.5", "1e3"])
def test_a_budget_that_is_not_a_whole_number_is_one_clear_error(no_thread_variables, text):
    no_thread_variables.setenv("OMP_NUM_THREADS", text)
    with pytest.raises(BadInput, match=rf"OMP_NUM_THREADS='{text}': expected a whole number of threads"):
        thread_budget()


def test_torch_gets_the_budget(no_thread_variables):
    before = torch.get_num_threads()
    no_thread_variables.setenv("KAGGLE_JOB_THREADS", "1")
    try:
        assert configure_threads() == 1 == torch.get_num_threads()
    finally:
        torch.set_num_threads(before)
