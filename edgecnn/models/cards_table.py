"""Every zoo model's card, and its parameter count as built, without importing torch.

Generated from the registry by `python -m edgecnn.models.names`; do not edit
(tests/test_model_names.py regenerates it and fails on any difference).
PARAMS: name -> {(input_size, num_classes): parameters of the built model}.
"""

from edgecnn.models._registry import ModelCard, Reference, TorchvisionWeights  # noqa: F401

CARDS: dict[str, ModelCard] = {
    'alexnet': ModelCard(name='alexnet', family='alexnet', paper='Krizhevsky, Sutskever & Hinton, 2012. ImageNet Classification with Deep Convolutional Neural Networks', input_size=224, num_classes=1000, dataset='imagenet', min_input_size=15, description='AlexNet as in the paper: LRN after conv1 and conv2, two towers as grouped convs', references={
        (224, 1000): Reference(params=60965224, macs=724406816, source="Krizhevsky et al. 2012, Fig. 2 layer sizes with the two towers as groups=2 (counted: 60,965,224; text: '60 million parameters'); MACs: Sze et al. 2017, 'Efficient Processing of Deep Neural Networks', Table III (666M conv + 58.6M FC = 724M)"),
    }),
    'densenet121': ModelCard(name='densenet121', family='densenet', paper='Huang, Liu, van der Maaten & Weinberger, 2017. Densely Connected Convolutional Networks', input_size=224, num_classes=1000, dataset='imagenet', min_input_size=8, description='DenseNet-BC, blocks (6, 12, 24, 16), growth 32; CIFAR stem below 64 px', torchvision=TorchvisionWeights(enum='DenseNet121_Weights', builder='densenet121'), references={
        (224, 1000): Reference(params=7978856, macs=2834000000, source='torchvision DenseNet121_Weights.IMAGENET1K_V1 meta: num_params 7,978,856, 2.834 GFLOPS (= GMACs)'),
    }),
    'densenet169': ModelCard(name='densenet169', family='densenet', paper='Huang, Liu, van der Maaten & Weinberger, 2017. Densely Connected Convolutional Networks', input_size=224, num_classes=1000, dataset='imagenet', min_input_size=8, description='DenseNet-BC, blocks (6, 12, 32, 32), growth 32; CIFAR stem below 64 px', torchvision=TorchvisionWeights(enum='DenseNet169_Weights', builder='densenet169'), references={
        (224, 1000): Reference(params=14149480, macs=3360000000, source='torchvision DenseNet169_Weights.IMAGENET1K_V1 meta: num_params 14,149,480, 3.36 GFLOPS (= GMACs)'),
    }),
    'densenet201': ModelCard(name='densenet201', family='densenet', paper='Huang, Liu, van der Maaten & Weinberger, 2017. Densely Connected Convolutional Networks', input_size=224, num_classes=1000, dataset='imagenet', min_input_size=8, description='DenseNet-BC, blocks (6, 12, 48, 32), growth 32; CIFAR stem below 64 px', torchvision=TorchvisionWeights(enum='DenseNet201_Weights', builder='densenet201'), references={
        (224, 1000): Reference(params=20013928, macs=4291000000, source='torchvision DenseNet201_Weights.IMAGENET1K_V1 meta: num_params 20,013,928, 4.291 GFLOPS (= GMACs)'),
    }),
    'densenet264': ModelCard(name='densenet264', family='densenet', paper='Huang, Liu, van der Maaten & Weinberger, 2017. Densely Connected Convolutional Networks', input_size=224, num_classes=1000, dataset='imagenet', min_input_size=8, description='DenseNet-BC, blocks (6, 12, 64, 48), growth 32; CIFAR stem below 64 px', references={
        (224, 1000): Reference(params=33300000, source='Huang et al. 2017, Table 1 DenseNet-264 column (k=32, compression 0.5, bottleneck 4k): 33.3M as quoted (rounded to 0.1M); counted 33,337,704', tolerance=0.0015),
    }),
    'efficientnet_b0': ModelCard(name='efficientnet_b0', family='efficientnet', paper='Tan & Le, 2019. EfficientNet: Rethinking Model Scaling for Convolutional Neural Networks', input_size=224, num_classes=1000, dataset='imagenet', min_input_size=16, description='EfficientNet-B0: width x1.0, depth x1.0, 224 px', torchvision=TorchvisionWeights(enum='EfficientNet_B0_Weights', builder='efficientnet_b0'), references={
        (224, 1000): Reference(params=5288548, macs=386000000, source='torchvision EfficientNet_B0_Weights.IMAGENET1K_V1 meta: num_params 5,288,548, 0.386 GFLOPS (= GMACs)'),
    }),
    'efficientnet_b1': ModelCard(name='efficientnet_b1', family='efficientnet', paper='Tan & Le, 2019. EfficientNet: Rethinking Model Scaling for Convolutional Neural Networks', input_size=240, num_classes=1000, dataset='imagenet', min_input_size=16, description='EfficientNet-B1: width x1.0, depth x1.1, 240 px', torchvision=TorchvisionWeights(enum='EfficientNet_B1_Weights', builder='efficientnet_b1'), references={
        (240, 1000): Reference(params=7794184, macs=687000000, source='torchvision EfficientNet_B1_Weights.IMAGENET1K_V1 meta: num_params 7,794,184, 0.687 GFLOPS (= GMACs)'),
    }),
    'efficientnet_b2': ModelCard(name='efficientnet_b2', family='efficientnet', paper='Tan & Le, 2019. EfficientNet: Rethinking Model Scaling for Convolutional Neural Networks', input_size=260, num_classes=1000, dataset='imagenet', min_input_size=16, description='EfficientNet-B2: width x1.1, depth x1.2, 260 px', torchvision=TorchvisionWeights(enum='EfficientNet_B2_Weights', builder='efficientnet_b2'), references={
        (288, 1000): Reference(params=9109994, macs=1088000000, source='torchvision EfficientNet_B2_Weights.IMAGENET1K_V1 meta: num_params 9,109,994, 1.088 GFLOPS (= GMACs)'),
        (260, 1000): Reference(params=9109994, macs=1000000000, source='params: torchvision (as at 288 px); MACs: paper Table 2, 1.0B at 260 px, rounded to 0.1B', macs_tolerance=0.05),
    }),
    'efficientnet_b3': ModelCard(name='efficientnet_b3', family='efficientnet', paper='Tan & Le, 2019. EfficientNet: Rethinking Model Scaling for Convolutional Neural Networks', input_size=300, num_classes=1000, dataset='imagenet', min_input_size=16, description='EfficientNet-B3: width x1.2, depth x1.4, 300 px', torchvision=TorchvisionWeights(enum='EfficientNet_B3_Weights', builder='efficientnet_b3'), references={
        (300, 1000): Reference(params=12233232, macs=1827000000, source='torchvision EfficientNet_B3_Weights.IMAGENET1K_V1 meta: num_params 12,233,232, 1.827 GFLOPS (= GMACs)'),
    }),
    'efficientnet_b4': ModelCard(name='efficientnet_b4', family='efficientnet', paper='Tan & Le, 2019. EfficientNet: Rethinking Model Scaling for Convolutional Neural Networks', input_size=380, num_classes=1000, dataset='imagenet', min_input_size=16, description='EfficientNet-B4: width x1.4, depth x1.8, 380 px', torchvision=TorchvisionWeights(enum='EfficientNet_B4_Weights', builder='efficientnet_b4'), references={
        (380, 1000): Reference(params=19341616, macs=4394000000, source='torchvision EfficientNet_B4_Weights.IMAGENET1K_V1 meta: num_params 19,341,616, 4.394 GFLOPS (= GMACs)'),
    }),
    'efficientnet_b5': ModelCard(name='efficientnet_b5', family='efficientnet', paper='Tan & Le, 2019. EfficientNet: Rethinking Model Scaling for Convolutional Neural Networks', input_size=456, num_classes=1000, dataset='imagenet', min_input_size=16, description='EfficientNet-B5: width x1.6, depth x2.2, 456 px', torchvision=TorchvisionWeights(enum='EfficientNet_B5_Weights', builder='efficientnet_b5'), references={
        (456, 1000): Reference(params=30389784, macs=10266000000, source='torchvision EfficientNet_B5_Weights.IMAGENET1K_V1 meta: num_params 30,389,784, 10.266 GFLOPS (= GMACs)'),
    }),
    'efficientnet_b6': ModelCard(name='efficientnet_b6', family='efficientnet', paper='Tan & Le, 2019. EfficientNet: Rethinking Model Scaling for Convolutional Neural Networks', input_size=528, num_classes=1000, dataset='imagenet', min_input_size=16, description='EfficientNet-B6: width x1.8, depth x2.6, 528 px', torchvision=TorchvisionWeights(enum='EfficientNet_B6_Weights', builder='efficientnet_b6'), references={
        (528, 1000): Reference(params=43040704, macs=19068000000, source='torchvision EfficientNet_B6_Weights.IMAGENET1K_V1 meta: num_params 43,040,704, 19.068 GFLOPS (= GMACs)'),
    }),
    'efficientnet_b7': ModelCard(name='efficientnet_b7', family='efficientnet', paper='Tan & Le, 2019. EfficientNet: Rethinking Model Scaling for Convolutional Neural Networks', input_size=600, num_classes=1000, dataset='imagenet', min_input_size=16, description='EfficientNet-B7: width x2.0, depth x3.1, 600 px', torchvision=TorchvisionWeights(enum='EfficientNet_B7_Weights', builder='efficientnet_b7'), references={
        (600, 1000): Reference(params=66347960, macs=37746000000, source='torchvision EfficientNet_B7_Weights.IMAGENET1K_V1 meta: num_params 66,347,960, 37.746 GFLOPS (= GMACs)'),
    }),
    'googlenet': ModelCard(name='googlenet', family='inception', paper='Szegedy et al., 2014. Going Deeper with Convolutions', input_size=224, num_classes=1000, dataset='imagenet', min_input_size=4, description='torchvision GoogLeNet (Inception v1) without the auxiliary classifiers', torchvision=TorchvisionWeights(enum='GoogLeNet_Weights', builder='googlenet', builder_kwargs=(('aux_logits', False),), ignore_keys=('aux1.', 'aux2.'), set_attrs=(('transform_input', True),)), references={
        (224, 1000): Reference(params=6624904, macs=1498000000, source='torchvision GoogLeNet_Weights.IMAGENET1K_V1 meta: num_params 6,624,904, 1.498 GFLOPS (= GMACs)'),
    }),
    'inception_v3': ModelCard(name='inception_v3', family='inception', paper='Szegedy et al., 2015. Rethinking the Inception Architecture for Computer Vision', input_size=299, num_classes=1000, dataset='imagenet', min_input_size=11, description='torchvision Inception v3 (aux head kept for parameter parity); forward returns logits only', torchvision=TorchvisionWeights(enum='Inception_V3_Weights', builder='inception_v3', ignore_keys=('AuxLogits.',), set_attrs=(('transform_input', True),)), references={
        (299, 1000): Reference(params=27161264, macs=5713000000, source='torchvision Inception_V3_Weights.IMAGENET1K_V1 meta: num_params 27,161,264, 5.713 GFLOPS (= GMACs)'),
    }),
    'lenet5': ModelCard(name='lenet5', family='lenet', paper='LeCun et al., 1998. Gradient-Based Learning Applied to Document Recognition', input_size=32, num_classes=10, dataset='cifar10', mean=(0.4914, 0.4822, 0.4465), std=(0.247, 0.2435, 0.2616), references={
        (32, 10): Reference(params=62006, macs=651720, source='paper table (RGB input)'),
    }),
    'mnasnet0_5': ModelCard(name='mnasnet0_5', family='mnasnet', paper='Tan et al., 2019. MnasNet: Platform-Aware Neural Architecture Search for Mobile', input_size=224, num_classes=1000, dataset='imagenet', min_input_size=8, description='MNASNet (B1, no SE) at depth multiplier 0.5', torchvision=TorchvisionWeights(enum='MNASNet0_5_Weights', builder='mnasnet0_5'), references={
        (224, 1000): Reference(params=2218512, macs=104000000, source='torchvision MNASNet0_5_Weights.IMAGENET1K_V1 meta: num_params 2,218,512, 0.104 GFLOPS (= GMACs)'),
    }),
    'mnasnet0_75': ModelCard(name='mnasnet0_75', family='mnasnet', paper='Tan et al., 2019. MnasNet: Platform-Aware Neural Architecture Search for Mobile', input_size=224, num_classes=1000, dataset='imagenet', min_input_size=8, description='MNASNet (B1, no SE) at depth multiplier 0.75', torchvision=TorchvisionWeights(enum='MNASNet0_75_Weights', builder='mnasnet0_75'), references={
        (224, 1000): Reference(params=3170208, macs=215000000, source='torchvision MNASNet0_75_Weights.IMAGENET1K_V1 meta: num_params 3,170,208, 0.215 GFLOPS (= GMACs)'),
    }),
    'mnasnet1_0': ModelCard(name='mnasnet1_0', family='mnasnet', paper='Tan et al., 2019. MnasNet: Platform-Aware Neural Architecture Search for Mobile', input_size=224, num_classes=1000, dataset='imagenet', min_input_size=8, description='MNASNet (B1, no SE) at depth multiplier 1.0', torchvision=TorchvisionWeights(enum='MNASNet1_0_Weights', builder='mnasnet1_0'), references={
        (224, 1000): Reference(params=4383312, macs=314000000, source='torchvision MNASNet1_0_Weights.IMAGENET1K_V1 meta: num_params 4,383,312, 0.314 GFLOPS (= GMACs)'),
    }),
    'mnasnet1_3': ModelCard(name='mnasnet1_3', family='mnasnet', paper='Tan et al., 2019. MnasNet: Platform-Aware Neural Architecture Search for Mobile', input_size=224, num_classes=1000, dataset='imagenet', min_input_size=8, description='MNASNet (B1, no SE) at depth multiplier 1.3', torchvision=TorchvisionWeights(enum='MNASNet1_3_Weights', builder='mnasnet1_3'), references={
        (224, 1000): Reference(params=6282256, macs=526000000, source='torchvision MNASNet1_3_Weights.IMAGENET1K_V1 meta: num_params 6,282,256, 0.526 GFLOPS (= GMACs)'),
    }),
    'mobilenet_v1': ModelCard(name='mobilenet_v1', family='mobilenet_v1', paper='Howard et al., 2017. MobileNets: Efficient Convolutional Neural Networks for Mobile Vision Applications', input_size=224, num_classes=1000, dataset='imagenet', min_input_size=16, options={'width_mult': 1.0}, description='MobileNet v1, width multiplier option (0.25/0.5/0.75/1.0)', references={
        (224, 1000): Reference(params=4231976, macs=569000000, source="parameters counted from the paper's Table 1 layer list (paper: 4.2M); MACs: paper Table 6, 569M", top1=70.6, top1_source='Howard et al. 2017, Table 8: 1.0 MobileNet-224, 70.6% ImageNet accuracy'),
        (32, 10): Reference(params=3217226, source='Table 1 with the CIFAR stem (stride 1), 10 classes'),
    }),
    'mobilenet_v1_025': ModelCard(name='mobilenet_v1_025', family='mobilenet_v1', paper='Howard et al., 2017. MobileNets: Efficient Convolutional Neural Networks for Mobile Vision Applications', input_size=224, num_classes=1000, dataset='imagenet', min_input_size=16, description='MobileNet v1 at width multiplier 0.25', references={
        (224, 1000): Reference(params=500000, macs=41000000, source='paper Table 6 (width 0.25): 0.5M params, 41M MACs; the paper rounds params to 0.1M, so the tolerance is 0.05M / 0.5M = 0.100', tolerance=0.1, top1=50.6, top1_source='Howard et al. 2017, Table 6: 0.25 MobileNet-224, 50.6% ImageNet accuracy'),
    }),
    'mobilenet_v1_050': ModelCard(name='mobilenet_v1_050', family='mobilenet_v1', paper='Howard et al., 2017. MobileNets: Efficient Convolutional Neural Networks for Mobile Vision Applications', input_size=224, num_classes=1000, dataset='imagenet', min_input_size=16, description='MobileNet v1 at width multiplier 0.5', references={
        (224, 1000): Reference(params=1300000, macs=149000000, source='paper Table 6 (width 0.5): 1.3M params, 149M MACs; the paper rounds params to 0.1M, so the tolerance is 0.05M / 1.3M = 0.038', tolerance=0.038, top1=63.7, top1_source='Howard et al. 2017, Table 6: 0.5 MobileNet-224, 63.7% ImageNet accuracy'),
    }),
    'mobilenet_v1_075': ModelCard(name='mobilenet_v1_075', family='mobilenet_v1', paper='Howard et al., 2017. MobileNets: Efficient Convolutional Neural Networks for Mobile Vision Applications', input_size=224, num_classes=1000, dataset='imagenet', min_input_size=16, description='MobileNet v1 at width multiplier 0.75', references={
        (224, 1000): Reference(params=2600000, macs=325000000, source='paper Table 6 (width 0.75): 2.6M params, 325M MACs; the paper rounds params to 0.1M, so the tolerance is 0.05M / 2.6M = 0.019', tolerance=0.019, top1=68.4, top1_source='Howard et al. 2017, Table 6: 0.75 MobileNet-224, 68.4% ImageNet accuracy'),
    }),
    'mobilenet_v2': ModelCard(name='mobilenet_v2', family='mobilenet_v2', paper='Sandler et al., 2018. MobileNetV2: Inverted Residuals and Linear Bottlenecks', input_size=224, num_classes=1000, dataset='imagenet', min_input_size=8, options={'width_mult': 1.0}, description='MobileNet v2, width multiplier option (0.5/0.75/1.0/1.4)', torchvision=TorchvisionWeights(enum='MobileNet_V2_Weights', builder='mobilenet_v2'), references={
        (224, 1000): Reference(params=3504872, macs=300774272, source='torchvision MobileNet_V2_Weights.IMAGENET1K_V1 (num_params; 0.301 GMACs, counted exactly: 300.77M); paper Table 4: 3.4M, 300M', top1=71.878, top1_source='torchvision MobileNet_V2_Weights.IMAGENET1K_V1 meta acc@1', top1_weights='IMAGENET1K_V1'),
        (32, 10): Reference(params=2236682, source="paper Table 2 with the CIFAR strides (stem and row 2 at stride 1), 10 classes; kuangliu's port reports 2,296,922 because of its extra projection shortcuts"),
    }),
    'mobilenet_v2_050': ModelCard(name='mobilenet_v2_050', family='mobilenet_v2', paper='Sandler et al., 2018. MobileNetV2: Inverted Residuals and Linear Bottlenecks', input_size=224, num_classes=1000, dataset='imagenet', min_input_size=8, description='MobileNet v2 at width multiplier 0.5', references={
        (224, 1000): Reference(params=2000000, macs=97000000, source="published figures for width 0.5 at 224 px: 2.0M params (rounded to 0.1M, so +-0.05M = 2.5%), 97M MACs; counted: 1,968,680 params as torchvision's mobilenet_v2(width_mult=0.5)", tolerance=0.025),
    }),
    'mobilenet_v2_075': ModelCard(name='mobilenet_v2_075', family='mobilenet_v2', paper='Sandler et al., 2018. MobileNetV2: Inverted Residuals and Linear Bottlenecks', input_size=224, num_classes=1000, dataset='imagenet', min_input_size=8, description='MobileNet v2 at width multiplier 0.75', references={
        (224, 1000): Reference(params=2600000, macs=209000000, source="published figures for width 0.75 at 224 px: 2.6M params (rounded to 0.1M, so +-0.05M = 1.9%), 209M MACs; counted: 2,636,424 params as torchvision's mobilenet_v2(width_mult=0.75)", tolerance=0.019),
    }),
    'mobilenet_v2_140': ModelCard(name='mobilenet_v2_140', family='mobilenet_v2', paper='Sandler et al., 2018. MobileNetV2: Inverted Residuals and Linear Bottlenecks', input_size=224, num_classes=1000, dataset='imagenet', min_input_size=8, description='MobileNet v2 at width multiplier 1.4', references={
        (224, 1000): Reference(params=6108776, macs=585000000, source="params: Table 2 at width 1.4 with the reference rounding, equal to torchvision's mobilenet_v2(width_mult=1.4); the paper's Table 4 says 6.9M, which its own Table 2 does not give (TF-slim's released 1.4 checkpoint lists 6.06M); MACs: paper Table 4, 585M"),
    }),
    'mobilenet_v3_large': ModelCard(name='mobilenet_v3_large', family='mobilenet_v3', paper='Howard et al., 2019. Searching for MobileNetV3', input_size=224, num_classes=1000, dataset='imagenet', min_input_size=8, torchvision=TorchvisionWeights(enum='MobileNet_V3_Large_Weights', builder='mobilenet_v3_large'), references={
        (224, 1000): Reference(params=5483032, macs=217000000, source='torchvision MobileNet_V3_Large_Weights.IMAGENET1K_V1: num_params, 0.217 GMACs (paper: 5.4M, 219M)', top1=74.042, top1_source='torchvision MobileNet_V3_Large_Weights.IMAGENET1K_V1 meta acc@1', top1_weights='IMAGENET1K_V1'),
    }),
    'mobilenet_v3_small': ModelCard(name='mobilenet_v3_small', family='mobilenet_v3', paper='Howard et al., 2019. Searching for MobileNetV3', input_size=224, num_classes=1000, dataset='imagenet', min_input_size=8, torchvision=TorchvisionWeights(enum='MobileNet_V3_Small_Weights', builder='mobilenet_v3_small'), references={
        (224, 1000): Reference(params=2542856, macs=57000000, source='torchvision MobileNet_V3_Small_Weights.IMAGENET1K_V1: num_params, 0.057 GMACs (paper: 2.5M, 56M)', top1=67.668, top1_source='torchvision MobileNet_V3_Small_Weights.IMAGENET1K_V1 meta acc@1', top1_weights='IMAGENET1K_V1'),
    }),
    'nin': ModelCard(name='nin', family='nin', paper='Lin, Chen & Yan, 2013. Network In Network', input_size=32, num_classes=10, dataset='cifar10', mean=(0.4914, 0.4822, 0.4465), std=(0.247, 0.2435, 0.2616), min_input_size=5, description='Network in Network: mlpconv blocks and global average pooling, no FC layer', references={
        (32, 10): Reference(params=966986, source="Lin et al. 2013, the authors' CIFAR-10 Caffe definition (counted: 966,986; the common ports quote 0.97M)"),
    }),
    'preact_resnet18': ModelCard(name='preact_resnet18', family='preact_resnet', paper='He, Zhang, Ren & Sun, 2016. Identity Mappings in Deep Residual Networks', input_size=32, num_classes=10, dataset='cifar10', mean=(0.4914, 0.4822, 0.4465), std=(0.247, 0.2435, 0.2616), min_input_size=8, description='pre-activation ResNet-18 for CIFAR (ImageNet stem at >= 64 px)', references={
        (32, 10): Reference(params=11172170, source="kuangliu/pytorch-cifar PreActResNet18 (11,171,146) + the paper's final BN (1,024), counted"),
    }),
    'pyramidnet110_a48': ModelCard(name='pyramidnet110_a48', family='pyramidnet', paper='Han, Kim & Kim, 2017. Deep Pyramidal Residual Networks', input_size=32, num_classes=10, dataset='cifar10', mean=(0.4914, 0.4822, 0.4465), std=(0.247, 0.2435, 0.2616), min_input_size=4, description='additive PyramidNet-110, alpha 48, basic blocks, zero-padded shortcuts', references={
        (32, 10): Reference(params=1772706, source="osmr/imgclsmob pyramidnet110_a48_cifar10 (1,772,706; a port of the authors' code); Han et al. 2017, Table 4 prints it truncated as 1.7M"),
    }),
    'resnet101': ModelCard(name='resnet101', family='resnet', paper='He, Zhang, Ren & Sun, 2015. Deep Residual Learning for Image Recognition', input_size=224, num_classes=1000, dataset='imagenet', min_input_size=8, description='torchvision resnet101; CIFAR stem below 64 px', torchvision=TorchvisionWeights(enum='ResNet101_Weights', builder='resnet101'), references={
        (224, 1000): Reference(params=44549160, macs=7801000000, source='torchvision ResNet101_Weights.IMAGENET1K_V1 meta: num_params 44,549,160, 7.801 GFLOPS (= GMACs)', top1=77.374, top1_source='torchvision ResNet101_Weights.IMAGENET1K_V1 meta acc@1', top1_weights='IMAGENET1K_V1'),
        (32, 10): Reference(params=42512970, source='kuangliu/pytorch-cifar models/resnet.py at 10 classes (3x3 stride-1 stem, no max-pool)'),
    }),
    'resnet152': ModelCard(name='resnet152', family='resnet', paper='He, Zhang, Ren & Sun, 2015. Deep Residual Learning for Image Recognition', input_size=224, num_classes=1000, dataset='imagenet', min_input_size=8, description='torchvision resnet152; CIFAR stem below 64 px', torchvision=TorchvisionWeights(enum='ResNet152_Weights', builder='resnet152'), references={
        (224, 1000): Reference(params=60192808, macs=11514000000, source='torchvision ResNet152_Weights.IMAGENET1K_V1 meta: num_params 60,192,808, 11.514 GFLOPS (= GMACs)', top1=78.312, top1_source='torchvision ResNet152_Weights.IMAGENET1K_V1 meta acc@1', top1_weights='IMAGENET1K_V1'),
        (32, 10): Reference(params=58156618, source='kuangliu/pytorch-cifar models/resnet.py at 10 classes (3x3 stride-1 stem, no max-pool)'),
    }),
    'resnet18': ModelCard(name='resnet18', family='resnet', paper='He, Zhang, Ren & Sun, 2015. Deep Residual Learning for Image Recognition', input_size=224, num_classes=1000, dataset='imagenet', min_input_size=8, description='torchvision resnet18; CIFAR stem below 64 px', torchvision=TorchvisionWeights(enum='ResNet18_Weights', builder='resnet18'), references={
        (224, 1000): Reference(params=11689512, macs=1814000000, source='torchvision ResNet18_Weights.IMAGENET1K_V1 meta: num_params 11,689,512, 1.814 GFLOPS (= GMACs)', top1=69.758, top1_source='torchvision ResNet18_Weights.IMAGENET1K_V1 meta acc@1', top1_weights='IMAGENET1K_V1'),
        (32, 10): Reference(params=11173962, source='kuangliu/pytorch-cifar models/resnet.py at 10 classes (3x3 stride-1 stem, no max-pool)'),
    }),
    'resnet34': ModelCard(name='resnet34', family='resnet', paper='He, Zhang, Ren & Sun, 2015. Deep Residual Learning for Image Recognition', input_size=224, num_classes=1000, dataset='imagenet', min_input_size=8, description='torchvision resnet34; CIFAR stem below 64 px', torchvision=TorchvisionWeights(enum='ResNet34_Weights', builder='resnet34'), references={
        (224, 1000): Reference(params=21797672, macs=3664000000, source='torchvision ResNet34_Weights.IMAGENET1K_V1 meta: num_params 21,797,672, 3.664 GFLOPS (= GMACs)', top1=73.314, top1_source='torchvision ResNet34_Weights.IMAGENET1K_V1 meta acc@1', top1_weights='IMAGENET1K_V1'),
        (32, 10): Reference(params=21282122, source='kuangliu/pytorch-cifar models/resnet.py at 10 classes (3x3 stride-1 stem, no max-pool)'),
    }),
    'resnet50': ModelCard(name='resnet50', family='resnet', paper='He, Zhang, Ren & Sun, 2015. Deep Residual Learning for Image Recognition', input_size=224, num_classes=1000, dataset='imagenet', min_input_size=8, description='torchvision resnet50; CIFAR stem below 64 px', torchvision=TorchvisionWeights(enum='ResNet50_Weights', builder='resnet50'), references={
        (224, 1000): Reference(params=25557032, macs=4089000000, source='torchvision ResNet50_Weights.IMAGENET1K_V1 meta: num_params 25,557,032, 4.089 GFLOPS (= GMACs)', top1=76.13, top1_source='torchvision ResNet50_Weights.IMAGENET1K_V1 meta acc@1', top1_weights='IMAGENET1K_V1'),
        (32, 10): Reference(params=23520842, source='kuangliu/pytorch-cifar models/resnet.py at 10 classes (3x3 stride-1 stem, no max-pool)'),
    }),
    'resnext101_32x8d': ModelCard(name='resnext101_32x8d', family='resnext', paper='Xie, Girshick, Dollar, Tu & He, 2017. Aggregated Residual Transformations for Deep Neural Networks', input_size=224, num_classes=1000, dataset='imagenet', min_input_size=8, description='torchvision resnext101_32x8d (cardinality 32); CIFAR stem below 64 px', torchvision=TorchvisionWeights(enum='ResNeXt101_32X8D_Weights', builder='resnext101_32x8d'), references={
        (224, 1000): Reference(params=88791336, macs=16414000000, source='torchvision ResNeXt101_32X8D_Weights.IMAGENET1K_V1 meta: num_params 88,791,336, 16.414 GFLOPS (= GMACs)'),
    }),
    'resnext50_32x4d': ModelCard(name='resnext50_32x4d', family='resnext', paper='Xie, Girshick, Dollar, Tu & He, 2017. Aggregated Residual Transformations for Deep Neural Networks', input_size=224, num_classes=1000, dataset='imagenet', min_input_size=8, description='torchvision resnext50_32x4d (cardinality 32); CIFAR stem below 64 px', torchvision=TorchvisionWeights(enum='ResNeXt50_32X4D_Weights', builder='resnext50_32x4d'), references={
        (224, 1000): Reference(params=25028904, macs=4230000000, source='torchvision ResNeXt50_32X4D_Weights.IMAGENET1K_V1 meta: num_params 25,028,904, 4.23 GFLOPS (= GMACs)'),
    }),
    'se_resnet50': ModelCard(name='se_resnet50', family='senet', paper='Hu, Shen, Albanie, Sun & Wu, 2018. Squeeze-and-Excitation Networks', input_size=224, num_classes=1000, dataset='imagenet', min_input_size=8, description='ResNet-50 (torchvision layout) with squeeze-and-excitation, reduction 16', references={
        (224, 1000): Reference(params=28090000, source='Hu et al. 2018, SE-ResNet-50 (r=16): 28.09M parameters; counted 28,088,024', tolerance=0.01),
    }),
    'shake_shake26_2x32d': ModelCard(name='shake_shake26_2x32d', family='shake_shake', paper='Gastaldi, 2017. Shake-Shake regularization', input_size=32, num_classes=10, dataset='cifar10', mean=(0.4914, 0.4822, 0.4465), std=(0.247, 0.2435, 0.2616), min_input_size=4, description='Shake-Shake-26 2x32d: two-branch residual blocks; `edgecnn train --shake-shake` shakes them', references={
        (32, 10): Reference(params=2923162, source='counted; Gastaldi 2017, Table 1: 2.9M (rounded)'),
    }),
    'shake_shake26_2x96d': ModelCard(name='shake_shake26_2x96d', family='shake_shake', paper='Gastaldi, 2017. Shake-Shake regularization', input_size=32, num_classes=10, dataset='cifar10', mean=(0.4914, 0.4822, 0.4465), std=(0.247, 0.2435, 0.2616), min_input_size=4, description='Shake-Shake-26 2x96d: two-branch residual blocks; `edgecnn train --shake-shake` shakes them', references={
        (32, 10): Reference(params=26192922, source='counted; Gastaldi 2017, Table 1: 26.2M (rounded)'),
    }),
    'shufflenet_v2_x0_5': ModelCard(name='shufflenet_v2_x0_5', family='shufflenet_v2', paper='Ma et al., 2018. ShuffleNet V2: Practical Guidelines for Efficient CNN Architecture Design', input_size=224, num_classes=1000, dataset='imagenet', min_input_size=8, description='ShuffleNet v2 x0.5', torchvision=TorchvisionWeights(enum='ShuffleNet_V2_X0_5_Weights', builder='shufflenet_v2_x0_5'), references={
        (224, 1000): Reference(params=1366792, macs=40000000, source='torchvision ShuffleNet_V2_X0_5_Weights.IMAGENET1K_V1 meta: num_params 1,366,792, 0.04 GFLOPS (= GMACs)'),
    }),
    'shufflenet_v2_x1_0': ModelCard(name='shufflenet_v2_x1_0', family='shufflenet_v2', paper='Ma et al., 2018. ShuffleNet V2: Practical Guidelines for Efficient CNN Architecture Design', input_size=224, num_classes=1000, dataset='imagenet', min_input_size=8, description='ShuffleNet v2 x1.0', torchvision=TorchvisionWeights(enum='ShuffleNet_V2_X1_0_Weights', builder='shufflenet_v2_x1_0'), references={
        (224, 1000): Reference(params=2278604, macs=145000000, source='torchvision ShuffleNet_V2_X1_0_Weights.IMAGENET1K_V1 meta: num_params 2,278,604, 0.145 GFLOPS (= GMACs)'),
    }),
    'shufflenet_v2_x1_5': ModelCard(name='shufflenet_v2_x1_5', family='shufflenet_v2', paper='Ma et al., 2018. ShuffleNet V2: Practical Guidelines for Efficient CNN Architecture Design', input_size=224, num_classes=1000, dataset='imagenet', min_input_size=8, description='ShuffleNet v2 x1.5', torchvision=TorchvisionWeights(enum='ShuffleNet_V2_X1_5_Weights', builder='shufflenet_v2_x1_5'), references={
        (224, 1000): Reference(params=3503624, macs=296000000, source='torchvision ShuffleNet_V2_X1_5_Weights.IMAGENET1K_V1 meta: num_params 3,503,624, 0.296 GFLOPS (= GMACs)'),
    }),
    'shufflenet_v2_x2_0': ModelCard(name='shufflenet_v2_x2_0', family='shufflenet_v2', paper='Ma et al., 2018. ShuffleNet V2: Practical Guidelines for Efficient CNN Architecture Design', input_size=224, num_classes=1000, dataset='imagenet', min_input_size=8, description='ShuffleNet v2 x2.0', torchvision=TorchvisionWeights(enum='ShuffleNet_V2_X2_0_Weights', builder='shufflenet_v2_x2_0'), references={
        (224, 1000): Reference(params=7393996, macs=583000000, source='torchvision ShuffleNet_V2_X2_0_Weights.IMAGENET1K_V1 meta: num_params 7,393,996, 0.583 GFLOPS (= GMACs)'),
    }),
    'squeezenet1_0': ModelCard(name='squeezenet1_0', family='squeezenet', paper='Iandola et al., 2016. SqueezeNet: AlexNet-level accuracy with 50x fewer parameters and <0.5MB model size', input_size=224, num_classes=1000, dataset='imagenet', min_input_size=8, description='torchvision squeezenet1_0; 3x3 stride-1 stem below 64 px', torchvision=TorchvisionWeights(enum='SqueezeNet1_0_Weights', builder='squeezenet1_0'), references={
        (224, 1000): Reference(params=1248424, macs=819000000, source='torchvision SqueezeNet1_0_Weights.IMAGENET1K_V1 meta: num_params 1,248,424, 0.819 GFLOPS (= GMACs)'),
    }),
    'squeezenet1_1': ModelCard(name='squeezenet1_1', family='squeezenet', paper='Iandola et al., 2016. SqueezeNet: AlexNet-level accuracy with 50x fewer parameters and <0.5MB model size', input_size=224, num_classes=1000, dataset='imagenet', min_input_size=8, description='torchvision squeezenet1_1; 3x3 stride-1 stem below 64 px', torchvision=TorchvisionWeights(enum='SqueezeNet1_1_Weights', builder='squeezenet1_1'), references={
        (224, 1000): Reference(params=1235496, macs=349000000, source='torchvision SqueezeNet1_1_Weights.IMAGENET1K_V1 meta: num_params 1,235,496, 0.349 GFLOPS (= GMACs)'),
    }),
    'vgg11': ModelCard(name='vgg11', family='vgg', paper='Simonyan & Zisserman, 2014. Very Deep Convolutional Networks for Large-Scale Image Recognition', input_size=224, num_classes=1000, dataset='imagenet', description='torchvision vgg11', torchvision=TorchvisionWeights(enum='VGG11_Weights', builder='vgg11'), references={
        (224, 1000): Reference(params=132863336, macs=7609000000, source='torchvision VGG11_Weights.IMAGENET1K_V1 meta: num_params 132,863,336, 7.609 GFLOPS (= GMACs)'),
    }),
    'vgg11_bn': ModelCard(name='vgg11_bn', family='vgg', paper='Simonyan & Zisserman, 2014. Very Deep Convolutional Networks for Large-Scale Image Recognition', input_size=224, num_classes=1000, dataset='imagenet', description='torchvision vgg11_bn (batch norm)', torchvision=TorchvisionWeights(enum='VGG11_BN_Weights', builder='vgg11_bn'), references={
        (224, 1000): Reference(params=132868840, macs=7609000000, source='torchvision VGG11_BN_Weights.IMAGENET1K_V1 meta: num_params 132,868,840, 7.609 GFLOPS (= GMACs)'),
        (32, 10): Reference(params=9231114, source='kuangliu/pytorch-cifar models/vgg.py layout (counted)'),
    }),
    'vgg13': ModelCard(name='vgg13', family='vgg', paper='Simonyan & Zisserman, 2014. Very Deep Convolutional Networks for Large-Scale Image Recognition', input_size=224, num_classes=1000, dataset='imagenet', description='torchvision vgg13', torchvision=TorchvisionWeights(enum='VGG13_Weights', builder='vgg13'), references={
        (224, 1000): Reference(params=133047848, macs=11308000000, source='torchvision VGG13_Weights.IMAGENET1K_V1 meta: num_params 133,047,848, 11.308 GFLOPS (= GMACs)'),
    }),
    'vgg13_bn': ModelCard(name='vgg13_bn', family='vgg', paper='Simonyan & Zisserman, 2014. Very Deep Convolutional Networks for Large-Scale Image Recognition', input_size=224, num_classes=1000, dataset='imagenet', description='torchvision vgg13_bn (batch norm)', torchvision=TorchvisionWeights(enum='VGG13_BN_Weights', builder='vgg13_bn'), references={
        (224, 1000): Reference(params=133053736, macs=11308000000, source='torchvision VGG13_BN_Weights.IMAGENET1K_V1 meta: num_params 133,053,736, 11.308 GFLOPS (= GMACs)'),
        (32, 10): Reference(params=9416010, source='kuangliu/pytorch-cifar models/vgg.py layout (counted)'),
    }),
    'vgg16': ModelCard(name='vgg16', family='vgg', paper='Simonyan & Zisserman, 2014. Very Deep Convolutional Networks for Large-Scale Image Recognition', input_size=224, num_classes=1000, dataset='imagenet', description='torchvision vgg16', torchvision=TorchvisionWeights(enum='VGG16_Weights', builder='vgg16'), references={
        (224, 1000): Reference(params=138357544, macs=15470000000, source='torchvision VGG16_Weights.IMAGENET1K_V1 meta: num_params 138,357,544, 15.47 GFLOPS (= GMACs)'),
    }),
    'vgg16_bn': ModelCard(name='vgg16_bn', family='vgg', paper='Simonyan & Zisserman, 2014. Very Deep Convolutional Networks for Large-Scale Image Recognition', input_size=224, num_classes=1000, dataset='imagenet', description='torchvision vgg16_bn (batch norm)', torchvision=TorchvisionWeights(enum='VGG16_BN_Weights', builder='vgg16_bn'), references={
        (224, 1000): Reference(params=138365992, macs=15470000000, source='torchvision VGG16_BN_Weights.IMAGENET1K_V1 meta: num_params 138,365,992, 15.47 GFLOPS (= GMACs)'),
        (32, 10): Reference(params=14728266, source='kuangliu/pytorch-cifar models/vgg.py layout (counted)'),
    }),
    'vgg19': ModelCard(name='vgg19', family='vgg', paper='Simonyan & Zisserman, 2014. Very Deep Convolutional Networks for Large-Scale Image Recognition', input_size=224, num_classes=1000, dataset='imagenet', description='torchvision vgg19', torchvision=TorchvisionWeights(enum='VGG19_Weights', builder='vgg19'), references={
        (224, 1000): Reference(params=143667240, macs=19632000000, source='torchvision VGG19_Weights.IMAGENET1K_V1 meta: num_params 143,667,240, 19.632 GFLOPS (= GMACs)'),
    }),
    'vgg19_bn': ModelCard(name='vgg19_bn', family='vgg', paper='Simonyan & Zisserman, 2014. Very Deep Convolutional Networks for Large-Scale Image Recognition', input_size=224, num_classes=1000, dataset='imagenet', description='torchvision vgg19_bn (batch norm)', torchvision=TorchvisionWeights(enum='VGG19_BN_Weights', builder='vgg19_bn'), references={
        (224, 1000): Reference(params=143678248, macs=19632000000, source='torchvision VGG19_BN_Weights.IMAGENET1K_V1 meta: num_params 143,678,248, 19.632 GFLOPS (= GMACs)'),
        (32, 10): Reference(params=20040522, source='kuangliu/pytorch-cifar models/vgg.py layout (counted)'),
    }),
    'wide_resnet50_2': ModelCard(name='wide_resnet50_2', family='wide_resnet', paper='Zagoruyko & Komodakis, 2016. Wide Residual Networks', input_size=224, num_classes=1000, dataset='imagenet', min_input_size=8, description='torchvision wide_resnet50_2; CIFAR stem below 64 px', torchvision=TorchvisionWeights(enum='Wide_ResNet50_2_Weights', builder='wide_resnet50_2'), references={
        (224, 1000): Reference(params=68883240, macs=11398000000, source='torchvision Wide_ResNet50_2_Weights.IMAGENET1K_V1 meta: num_params 68,883,240, 11.398 GFLOPS (= GMACs)'),
    }),
    'wrn_28_10': ModelCard(name='wrn_28_10', family='wide_resnet', paper='Zagoruyko & Komodakis, 2016. Wide Residual Networks', input_size=32, num_classes=10, dataset='cifar10', mean=(0.4914, 0.4822, 0.4465), std=(0.247, 0.2435, 0.2616), min_input_size=4, options={'dropout': 0.0}, description='WRN-28-10 for CIFAR (pre-activation basic blocks, widen factor 10)', references={
        (32, 10): Reference(params=36500000, source='Zagoruyko & Komodakis 2016, Table 4 (WRN-28-10: 36.5M, rounded to 0.1M); counted 36,479,194', tolerance=0.002),
    }),
    'xception': ModelCard(name='xception', family='xception', paper='Chollet, 2017. Xception: Deep Learning with Depthwise Separable Convolutions', input_size=299, num_classes=1000, dataset='imagenet', mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5), min_input_size=16, description='Xception: entry/middle/exit flows of depthwise-separable convs with residual connections', references={
        (299, 1000): Reference(params=22855952, source='keras.applications.Xception trainable parameters (22,855,952 of 22,910,480; the rest are BN moving statistics) = timm legacy_xception; paper Table 3: 22,855,952'),
    }),
    'zfnet': ModelCard(name='zfnet', family='zfnet', paper='Zeiler & Fergus, 2013. Visualizing and Understanding Convolutional Networks', input_size=224, num_classes=1000, dataset='imagenet', min_input_size=6, description='ZFNet: 7x7 stride-2 first conv, contrast normalisation after the first two pools', references={
        (224, 1000): Reference(params=62357608, source='Zeiler & Fergus 2013, Fig. 3 layer sizes (counted; the paper gives no total)'),
    }),
}

PARAMS: dict[str, dict[tuple[int, int], int]] = {
    'alexnet': {(224, 1000): 60965224},
    'densenet121': {(224, 1000): 7978856},
    'densenet169': {(224, 1000): 14149480},
    'densenet201': {(224, 1000): 20013928},
    'densenet264': {(224, 1000): 33337704},
    'efficientnet_b0': {(224, 1000): 5288548},
    'efficientnet_b1': {(240, 1000): 7794184},
    'efficientnet_b2': {(260, 1000): 9109994, (288, 1000): 9109994},
    'efficientnet_b3': {(300, 1000): 12233232},
    'efficientnet_b4': {(380, 1000): 19341616},
    'efficientnet_b5': {(456, 1000): 30389784},
    'efficientnet_b6': {(528, 1000): 43040704},
    'efficientnet_b7': {(600, 1000): 66347960},
    'googlenet': {(224, 1000): 6624904},
    'inception_v3': {(299, 1000): 27161264},
    'lenet5': {(32, 10): 62006},
    'mnasnet0_5': {(224, 1000): 2218512},
    'mnasnet0_75': {(224, 1000): 3170208},
    'mnasnet1_0': {(224, 1000): 4383312},
    'mnasnet1_3': {(224, 1000): 6282256},
    'mobilenet_v1': {(32, 10): 3217226, (224, 1000): 4231976},
    'mobilenet_v1_025': {(224, 1000): 470072},
    'mobilenet_v1_050': {(224, 1000): 1331592},
    'mobilenet_v1_075': {(224, 1000): 2585560},
    'mobilenet_v2': {(32, 10): 2236682, (224, 1000): 3504872},
    'mobilenet_v2_050': {(224, 1000): 1968680},
    'mobilenet_v2_075': {(224, 1000): 2636424},
    'mobilenet_v2_140': {(224, 1000): 6108776},
    'mobilenet_v3_large': {(224, 1000): 5483032},
    'mobilenet_v3_small': {(224, 1000): 2542856},
    'nin': {(32, 10): 966986},
    'preact_resnet18': {(32, 10): 11172170},
    'pyramidnet110_a48': {(32, 10): 1772706},
    'resnet101': {(32, 10): 42512970, (224, 1000): 44549160},
    'resnet152': {(32, 10): 58156618, (224, 1000): 60192808},
    'resnet18': {(32, 10): 11173962, (224, 1000): 11689512},
    'resnet34': {(32, 10): 21282122, (224, 1000): 21797672},
    'resnet50': {(32, 10): 23520842, (224, 1000): 25557032},
    'resnext101_32x8d': {(224, 1000): 88791336},
    'resnext50_32x4d': {(224, 1000): 25028904},
    'se_resnet50': {(224, 1000): 28088024},
    'shake_shake26_2x32d': {(32, 10): 2923162},
    'shake_shake26_2x96d': {(32, 10): 26192922},
    'shufflenet_v2_x0_5': {(224, 1000): 1366792},
    'shufflenet_v2_x1_0': {(224, 1000): 2278604},
    'shufflenet_v2_x1_5': {(224, 1000): 3503624},
    'shufflenet_v2_x2_0': {(224, 1000): 7393996},
    'squeezenet1_0': {(224, 1000): 1248424},
    'squeezenet1_1': {(224, 1000): 1235496},
    'vgg11': {(224, 1000): 132863336},
    'vgg11_bn': {(32, 10): 9231114, (224, 1000): 132868840},
    'vgg13': {(224, 1000): 133047848},
    'vgg13_bn': {(32, 10): 9416010, (224, 1000): 133053736},
    'vgg16': {(224, 1000): 138357544},
    'vgg16_bn': {(32, 10): 14728266, (224, 1000): 138365992},
    'vgg19': {(224, 1000): 143667240},
    'vgg19_bn': {(32, 10): 20040522, (224, 1000): 143678248},
    'wide_resnet50_2': {(224, 1000): 68883240},
    'wrn_28_10': {(32, 10): 36479194},
    'xception': {(299, 1000): 22855952},
    'zfnet': {(224, 1000): 62357608},
}
