// Module PanguTokenizer. See README.md for the layer map.
