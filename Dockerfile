# The poolscope image: `poolscope serve`, `loadgen`, `alert-sink`, `logs export` and
# `dashboards sglang-target` on CPU torch.
#
#   docker build -t poolscope:0.1.0 .       # compose.yaml (and compose.sglang.yaml) build it
#   docker run --rm poolscope:0.1.0 --help  # the entrypoint is the `poolscope` command
#
# Runtime dependencies only (no test extras); the built-in default model is created on first
# start into $POOLSCOPE_CACHE_DIR, which compose backs with a named volume.
FROM python:3.11.13-slim-bookworm

# NOTE: CPU torch goes in first, from the PyTorch CPU index: pyproject's `torch>=2.5,<3` alone
# would pull the default CUDA build (several GB) from PyPI. `pip install .` then keeps it.
ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ARG UID=10001

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    POOLSCOPE_CACHE_DIR=/var/cache/poolscope

RUN pip install "torch==${TORCH_VERSION}" --index-url "${TORCH_INDEX_URL}"

# Only what the package build reads (pyproject names README.md as its readme), so editing tests or
# docs does not invalidate this layer.
WORKDIR /tmp/poolscope-src
COPY pyproject.toml README.md ./
COPY runtime ./runtime
COPY telemetry ./telemetry
COPY dashboards ./dashboards
COPY deployment ./deployment
RUN pip install . \
    && python -c "import torch; assert torch.__version__.startswith('${TORCH_VERSION}'), torch.__version__" \
    && rm -rf /tmp/poolscope-src

# NOTE: the cache directory and compose.sglang.yaml's targets directory exist in the image, owned
# by the runtime user, so that an empty named volume mounted over one starts with that owner
# (Docker copies it on first use); otherwise the volume would be root's and unwritable.
RUN groupadd --system --gid "${UID}" poolscope \
    && useradd --system --uid "${UID}" --gid "${UID}" --create-home --home-dir /home/poolscope \
        --shell /usr/sbin/nologin poolscope \
    && mkdir -p "${POOLSCOPE_CACHE_DIR}" /var/lib/poolscope/targets \
    && chown poolscope:poolscope "${POOLSCOPE_CACHE_DIR}" /var/lib/poolscope/targets

USER ${UID}:${UID}
WORKDIR /home/poolscope
EXPOSE 8000
ENTRYPOINT ["poolscope"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
