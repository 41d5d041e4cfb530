"""What every app shares: the domain error type, API error responses and throttles, attempt
counters, QR rendering, queueing work after commit, display helpers, middleware and error
pages. No business models live here, and nothing here imports an app."""
