"""inverse_ising: learn the fields and couplings of Ising models and Boltzmann machines from binary data.

Conventions (SPEC §1): spins s ∈ {−1, +1} as int8, β = 1 folded into the parameters, positive
couplings ferromagnetic, 0/1 data mapped by s = 2x − 1.
"""
__version__ = "0.1.0"

from .backend import BACKENDS, Backend, get_backend  # noqa: E402
from .data import Dataset, load_data, load_spike_times, save_raster_text  # noqa: E402
from .errors import FitDivergedError, InputError  # noqa: E402
from .exact import ExactSolution, exact_log_z, exact_mle, exact_sample, exact_solve, log_likelihood  # noqa: E402
from .images import image_to_spins, load_images, spins_to_png  # noqa: E402
from .fit import FitResult, fit, load_fit  # noqa: E402
from .kinetic import KineticFit, fit_kinetic, kinetic_log_likelihood  # noqa: E402
from .io import load_model, load_spins, save_model, save_spins  # noqa: E402
from .models import KineticIsing, LatticeIsing, PairwiseIsing  # noqa: E402
from .model_check import CheckResult, ModelCheckWarning, check_by_sampling  # noqa: E402
from .onsager import K_C, kaufman_energy, kaufman_log_z, kaufman_specific_heat, onsager_energy, onsager_magnetisation  # noqa: E402,E501
from .sampling import Chains, sample, simulate  # noqa: E402

__all__ = [
    "FitResult", "fit", "load_fit", "BACKENDS", "Backend", "Chains", "CheckResult", "check_by_sampling",
    "ModelCheckWarning", "Dataset", "ExactSolution", "FitDivergedError", "InputError", "KineticFit",
    "KineticIsing", "K_C", "LatticeIsing", "PairwiseIsing", "exact_log_z", "exact_mle", "exact_sample", "exact_solve",
    "fit_kinetic", "get_backend", "image_to_spins", "kaufman_energy", "kaufman_log_z", "kaufman_specific_heat",
    "kinetic_log_likelihood", "load_data", "load_images", "load_model", "load_spike_times", "load_spins",
    "log_likelihood", "onsager_energy", "onsager_magnetisation", "sample", "save_model", "save_raster_text",
    "save_spins", "simulate", "spins_to_png",
]
