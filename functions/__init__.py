"""Lambda doors: the Powertools handler (predict/) and the FastAPI app through Mangum (asgi/)."""
