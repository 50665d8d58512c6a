"""``create_app(settings) -> FastAPI``: the HTTP API and the web page, a thin layer over the scanner.

Every refusal is ``{"error": {"code": ..., "message": one line}}`` with a 4xx status; the
OpenAPI spec at ``/openapi.json`` documents each of them.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from fakelens.models.detector import DEFAULT_MODEL, Detector, shipped_models
from fakelens.models.scorer import file_threshold
from fakelens.serve.jobs import Job, JobManager
from fakelens.serve.schemas import ApiError, ErrorOut, HealthOut, JobOut, ModelsOut, ScanResult
from fakelens.serve.service import (
    ServeScanner,
    check_image,
    check_image_header,
    check_video,
    result_json,
    sniff,
)
from fakelens.serve.settings import ServeSettings
from fakelens.serve.uploads import FIELD, make_upload_dir, receive_upload, remove_upload_dir

STATIC = Path(__file__).resolve().parent / "static"

_ERRORS = {
    400: "Malformed or truncated multipart body, no 'file' field, an empty file, a bad Content-Length",
    408: "The upload took longer than the request timeout",
    413: "Upload, image pixels or video duration over the server's limits",
    415: "Not multipart/form-data, or content that sniffs as neither an image nor a video",
    422: "An image or video that cannot be decoded, or a bad query parameter",
    429: "The scan queue, the job table or the uploads in flight are full; retry after Retry-After seconds",
    500: "An unexpected failure while scanning (the server stays up)",
    503: "The server is shutting down",
    504: "The scan ran past the request timeout",
}
_HEADERS = {
    202: {"Location": {"description": "The job's URL to poll", "schema": {"type": "string"}}},
    429: {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}},
}
# The page only loads its own script, style and images (results are data:, the preview a blob:).
_PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
}
_UPLOAD_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": [FIELD],
                "properties": {FIELD: {"type": "string", "format": "binary"}},
            }
        }
    },
}


def load_for(settings: ServeSettings) -> Detector:
    """The detector named by the settings, on the chosen backend."""
    from fakelens.models.detector import load_detector

    return load_detector(settings.model, backend=settings.backend)


def _job_json(job: Job, ttl_s: float) -> dict:
    status = job.status  # read first: the worker publishes the finish time before the status
    finished_at = job.finished_at
    return {
        "id": job.id,
        "status": status,
        "progress": round(job.progress, 3),
        "created_at": job.created_at,
        "finished_at": finished_at,
        "expires_at": None if finished_at is None else finished_at + ttl_s,
        "result": job.result if status == "done" else None,
        "error": job.error.body()["error"] if job.error is not None else None,
    }


def _error_response(status: int, code: str, message: str, headers=None) -> JSONResponse:
    return JSONResponse(ApiError(status, code, message).body(), status_code=status, headers=headers)


def create_app(settings: ServeSettings | None = None, detector: Detector | None = None) -> FastAPI:
    """The server app; pass ``detector`` to reuse one already loaded (tests, benchmarks)."""
    settings = settings or ServeSettings()
    detector = detector if detector is not None else load_for(settings)
    jobs = JobManager(settings.max_queue, settings.max_jobs, settings.job_ttl_s)
    scanner = ServeScanner(detector, settings)
    receiving = [0]  # uploads streaming in or being checked: each may hold up to max_upload_mb on disk
    per_client: Counter[str] = Counter()  # the same, per client address
    backend = getattr(detector, "backend", "torch")  # what "auto" chose

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        yield
        await run_in_threadpool(jobs.close)

    app = FastAPI(
        title="fakelens",
        summary="Find forged faces in images and videos",
        description="Scores are p(fake). Images are answered at once; videos run as jobs to poll. "
        f"Limits: uploads up to {settings.max_upload_mb:g} MB, {settings.max_pixels} pixels per image "
        f"or frame, videos up to {settings.max_video_s:g} s.",
        version=_version(),
        lifespan=lifespan,
        # Swagger UI and ReDoc load their scripts from a CDN, so offline they are blank pages;
        # the spec itself is served at /openapi.json.
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings, app.state.detector, app.state.jobs = settings, detector, jobs

    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, err: ApiError):
        return JSONResponse(err.body(), status_code=err.status, headers=err.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, err: StarletteHTTPException):
        code = {404: "not_found", 405: "method_not_allowed"}.get(err.status_code, "http_error")
        return _error_response(err.status_code, code, str(err.detail), getattr(err, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, err: RequestValidationError):
        first = err.errors()[0] if err.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return _error_response(422, "invalid_request", f"{where}: {first.get('msg', 'invalid')}")

    @app.exception_handler(Exception)
    async def _internal_error(_request: Request, err: Exception):
        return _error_response(500, "internal", f"unexpected {type(err).__name__}")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    async def index():
        return FileResponse(STATIC / "index.html", media_type="text/html", headers=_PAGE_HEADERS)

    @app.get("/healthz", response_model=HealthOut, tags=["service"])
    async def healthz():
        queued, n_jobs = jobs.counts()
        return {
            "status": "ok",
            "model": detector.name,
            "backend": backend,
            "queued": queued,
            "jobs": n_jobs,
            "uploading": receiving[0],
        }

    @app.get("/v1/models", response_model=ModelsOut, tags=["service"])
    async def models():
        shipped = shipped_models()
        # where a model lives on the server is not the client's business: shipped or a checkpoint
        rows = [
            {"name": n, "default": n == DEFAULT_MODEL, "loaded": n == detector.name, "source": "shipped"}
            for n in shipped
        ]
        if detector.name not in shipped:
            rows.append({"name": detector.name, "default": False, "loaded": True, "source": "checkpoint"})
        return {
            "loaded": detector.name,
            "backend": backend,
            "threshold": detector.threshold,
            "video_threshold": file_threshold(detector, "video"),
            "models": rows,
        }

    @app.post(
        "/v1/scan",
        tags=["scan"],
        summary="Scan one image (answered now) or video (a job to poll)",
        openapi_extra={"requestBody": _UPLOAD_BODY},
        responses={
            200: {"model": ScanResult, "description": "An image's file and face records"},
            202: {
                "model": JobOut,
                "description": "A video job; poll the Location header",
                "headers": _HEADERS[202],
            },
            **{
                code: {"model": ErrorOut, "description": text, "headers": _HEADERS.get(code, {})}
                for code, text in _ERRORS.items()
            },
        },
    )
    async def scan(
        request: Request,
        evidence: bool = Query(False, description="Add the top faces' crops, frames and Grad-CAM heat maps"),
    ):
        if receiving[0] >= settings.max_queue or jobs.counts()[0] >= settings.max_queue:
            # refused before a byte is written: a full server must not fill its disk with uploads
            raise ApiError(429, "busy", "too many uploads in flight; retry later", {"Retry-After": "1"})
        client = request.client.host if request.client else "unknown"
        if per_client[client] >= settings.max_uploads_per_client:  # one client cannot take every slot
            raise ApiError(
                429,
                "busy",
                f"this client already has {per_client[client]} uploads in flight; retry later",
                {"Retry-After": "1"},
            )
        folder = make_upload_dir(settings)
        job = None
        receiving[0] += 1  # until the upload is queued or refused: it holds disk all that time
        per_client[client] += 1
        try:
            upload = await receive_upload(request, settings, folder)
            kind = sniff(upload)
            if kind == "image":  # header only here; decoded by the worker, so a queue holds no pixels
                planned = await run_in_threadpool(check_image_header, upload, settings)
            else:
                planned = await run_in_threadpool(check_video, upload, settings)

            def work(job: Job) -> dict:
                image = check_image(upload, settings) if kind == "image" else None
                result = scanner.scan_upload(upload, job, image, planned, evidence)
                return result_json(result, upload, detector if evidence else None)

            timeout = settings.request_timeout_s if kind == "image" else settings.job_timeout_s
            job = jobs.submit(work, timeout, lambda: remove_upload_dir(folder), remember=kind == "video")
        finally:
            receiving[0] -= 1
            per_client[client] -= 1
            if per_client[client] <= 0:
                del per_client[client]
            if job is None:  # refused before the worker took ownership of the folder
                remove_upload_dir(folder)
        if kind == "video":
            return JSONResponse(
                _job_json(job, settings.job_ttl_s),
                status_code=202,
                headers={"Location": f"/v1/jobs/{job.id}"},
            )
        try:
            fut = asyncio.wrap_future(job.future)
            fut.add_done_callback(lambda f: f.cancelled() or f.exception())  # no "never retrieved" log
            result = await asyncio.wait_for(asyncio.shield(fut), timeout=settings.request_timeout_s)
        except TimeoutError:
            job.cancel()
            raise ApiError(
                504, "timeout", f"the scan took longer than {settings.request_timeout_s:g} s"
            ) from None
        except asyncio.CancelledError:  # the request went away: the worker skips its scan
            job.cancel()
            raise
        return JSONResponse(result)

    @app.get(
        "/v1/jobs/{job_id}",
        response_model=JobOut,
        tags=["scan"],
        summary="A video job's status and progress, then its records",
        responses={
            404: {"model": ErrorOut, "description": "No such job, or it expired"},
            422: {"model": ErrorOut, "description": "A malformed job id"},
        },
    )
    async def get_job(job_id: str):
        job = jobs.get(job_id)
        if job is None:
            raise ApiError(
                404,
                "job_not_found",
                f"no job '{job_id[:64]}' (unknown, or expired after {settings.job_ttl_s:g} s)",
            )
        return _job_json(job, settings.job_ttl_s)

    return app


def _version() -> str:
    from fakelens import __version__

    return __version__


def serve(settings: ServeSettings, detector: Detector | None = None) -> None:
    """Run the server in the foreground until interrupted (``fakelens serve``)."""
    import uvicorn

    from fakelens.serve.uploads import sweep_stale_upload_dirs

    swept = sweep_stale_upload_dirs(settings)
    if swept:
        print(f"fakelens serve: removed {swept} upload folder(s) left by an earlier server", flush=True)
    app = create_app(settings, detector)  # loads the model first: the banner means it is ready
    backend = getattr(app.state.detector, "backend", settings.backend)
    print(
        f"fakelens serve: model {app.state.detector.name} ({backend}) on http://{settings.host}:{settings.port}/"
        "  (OpenAPI spec at /openapi.json)",
        flush=True,
    )
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="info")
