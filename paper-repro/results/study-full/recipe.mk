# Table 1's recipe at this scale, chosen by study.mk's rules R2 and R5 (written by make study)
T1_LR := 3e-4
T1_RELU := --l1 0.1 --biases
T1_JUMPRELU := --theta 0.1 --bandwidth 0.05 --l0 0.01
