"""Module 3's demos (a tour, a GPT and an encoder-decoder in training) and its benchmark."""
