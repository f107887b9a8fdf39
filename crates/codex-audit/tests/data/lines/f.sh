#!/usr/bin/env bash
# A script.
set -euo pipefail

echo "# not a comment"
# done
