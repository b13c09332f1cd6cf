"""inverse_ising: learn the fields and couplings of Ising models and Boltzmann machines from binary data."""
__version__ = "0.1.0"
