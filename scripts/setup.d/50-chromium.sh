#!/usr/bin/env bash
# Headless Chromium for the HTML report browser tests (test/report/*.int.test.ts).
# Optional: when it cannot be installed those tests skip and print why.
exec bash "$(dirname "$0")/../install-chromium.sh"
