"""Next-task selection and leases: who gets which item, and for how long."""

from truthline.routing.claim import claim_next, end_lease

__all__ = ["claim_next", "end_lease"]
