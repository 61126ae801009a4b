"""A local stand-in for the Seedance video API: real HTTP, real MP4s, no network or bill."""

from .server import Simulator

__all__ = ["Simulator"]
