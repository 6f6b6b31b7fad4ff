# Shared by the bench scripts (sourced, not run). Expects BENCH, OUT and VENV to be set.
# Timings on a shared 2-core machine swing with other people's load, so every phase records
# how busy the machine was, and can wait for a quieter moment (BENCH_WAIT_QUIET seconds).

# GNU nproc honours OMP_NUM_THREADS: count the cores before a script pins it.
NPROC="${NPROC:-$(nproc)}"
START=$SECONDS
step() { printf '\n== %s  (%ds elapsed)\n' "$1" "$((SECONDS - START))"; }
load() { cut -d' ' -f1-3 /proc/loadavg; }

# Share of all cores (percent) that other processes use over 2 s, sampled between phases.
busy_pct() {
  local _ u n s idle io irq sirq steal t1 i1 t2 i2
  read -r _ u n s idle io irq sirq steal _ </proc/stat
  t1=$((u + n + s + idle + io + irq + sirq + steal)); i1=$((idle + io))
  sleep 2
  read -r _ u n s idle io irq sirq steal _ </proc/stat
  t2=$((u + n + s + idle + io + irq + sirq + steal)); i2=$((idle + io))
  echo $((100 * ((t2 - t1) - (i2 - i1)) / ((t2 - t1) > 0 ? (t2 - t1) : 1)))
}

# quiet PHASE: measure (and with BENCH_WAIT_QUIET, wait for) the machine's background load,
# appending it to $OUT/busy.tsv.
quiet() {
  local phase=$1 waited=0 pct
  pct=$(busy_pct)
  while ((pct >= 25 && waited < ${BENCH_WAIT_QUIET:-0})); do
    sleep 8
    waited=$((waited + 10))
    pct=$(busy_pct)
  done
  echo "other processes: ${pct} % of the $NPROC cores, load average $(load)$( ((waited > 0)) && echo " (waited ${waited} s)")"
  printf '%s\t%s\t%s\n' "$phase" "$pct" "$(load)" >>"$OUT/busy.tsv"
}

# The Python environment: bench/.venv with the pinned requirements, reinstalled only when
# requirements.txt changes. Sets PY and PY_VERSIONS.
python_env() {
  step "python environment ($VENV)"
  local boot
  boot="$(command -v python3.11 || command -v python3)"
  if [[ ! -x "$VENV/bin/python" ]]; then
    "$boot" -m venv "$VENV"
  fi
  if ! cmp -s "$BENCH/requirements.txt" "$VENV/.bench-requirements.txt"; then
    "$VENV/bin/python" -m pip install --disable-pip-version-check -q -r "$BENCH/requirements.txt"
    cp "$BENCH/requirements.txt" "$VENV/.bench-requirements.txt"
  fi
  PY="$VENV/bin/python"
  PY_VERSIONS="$("$PY" -c 'import platform, sklearn, numpy, pandas; print("python", platform.python_version(), "scikit-learn", sklearn.__version__, "numpy", numpy.__version__, "pandas", pandas.__version__)')"
  echo "$PY_VERSIONS"
}

# NADIR: the release binary, built first unless BENCH_SKIP_BUILD=1 (the log in $OUT).
release_nadir() {
  NADIR="${CARGO_TARGET_DIR:-$ROOT/target}/release/nadir"
  [[ "${BENCH_SKIP_BUILD:-0}" == 1 ]] && return
  step "cargo build --release -p nadir-cli"
  (cd "$ROOT" && cargo build --release -p nadir-cli) >"$OUT/cargo-build.log" 2>&1 || {
    tail -n 20 "$OUT/cargo-build.log" >&2
    exit 2
  }
}

# A free loopback port.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits until the server SERVER_PID answers /readyz on PORT; exits 2 with its log LOG if it dies.
await_server() {
  local log=$1
  for _ in $(seq 100); do
    curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && return
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$log" >&2; exit 2; }
    sleep 0.2
  done
  curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null
}
