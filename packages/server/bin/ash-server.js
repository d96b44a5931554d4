#!/usr/bin/env node
// Stable bin entry (exists before the build, so npm can link it); the code is in dist/.
import '../dist/main.js';
