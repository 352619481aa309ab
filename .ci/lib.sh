# What the .ci scripts share: a pinned Python package in a venv of its own, and waiting for a
# server to listen. Sourced, not run.

# pinned_venv VENV MODULE SPEC: makes VENV with SPEC installed (once: nothing when MODULE
# already imports there). Pinned: a newer release may require fields the simulator lacks.
pinned_venv() {
    local venv=$1 module=$2 spec=$3
    "$venv/bin/python" -c "import $module" 2>/dev/null && return 0
    python3 -m venv "$venv" 2>/dev/null || {
        apt-get install -y -q python3-venv >/dev/null
        python3 -m venv "$venv"
    }
    "$venv/bin/pip" install -q "$spec"
}

# wait_for_port PORT...: waits until each listens on 127.0.0.1 (10 s each at most).
wait_for_port() {
    local port
    for port in "$@"; do
        for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
    done
}

# A port to try, from 20000 to 39999.
random_port() { echo $((20000 + RANDOM % 20000)); }
