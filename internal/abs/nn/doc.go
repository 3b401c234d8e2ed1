// Package nn holds the neural-network ops with gradients that the supernets of package supernet
// are built from, on gorgonia, and the machinery that builds and runs their graphs.
//
// The ops gorgonia lacks or gets wrong are ours, each with its gradient checked by finite
// differences: convolution (dense, fused with ReLU and batch norm, 1×1, depthwise and dilated),
// average, max and global average pooling, batch normalisation with and without affine
// parameters, ReLU6, FactorizedReduce's subsampling and the cross-entropy loss. Build and Builder
// add them to a fresh graph over weights held outside any graph, one graph per child and batch;
// Graph.Forward and Graph.Backward run it. Weight initialisation by the rules of Init
// (InitParams, the authors' rules among them) and SGD with Nesterov momentum and a cosine schedule
// complete it.
package nn
