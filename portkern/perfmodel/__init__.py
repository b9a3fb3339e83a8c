"""Performance prediction: features a compiler and a source can give, an analytic time, a correction
learned from the run store's GPU timings, and conformal intervals (see ``model``)."""
