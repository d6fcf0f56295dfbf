// Module PanguWeights. See README.md for the layer map.
