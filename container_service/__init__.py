"""Container door: the FastAPI app served by gunicorn with uvicorn workers (also run on Lambda via Mangum)."""
