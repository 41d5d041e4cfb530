"""The pickup QR code as a PNG (e-mails): every module drawn where the code has it."""

import png
import pytest
import qrcode

from core.qr import PNG_MODULE_PIXELS, qr_png


@pytest.mark.parametrize(
    "data",
    ["CC-SV3HAWER", "https://shop.example.com/orders/CC-SV3HAWER/pickup/" + "k" * 43, "x" * 300],
)
def test_the_png_draws_each_module_of_the_code_as_an_eight_pixel_square(data):
    width, height, rows, info = png.Reader(bytes=qr_png(data)).asDirect()
    pixels = [list(row) for row in rows]
    code = qrcode.QRCode(border=2, error_correction=qrcode.constants.ERROR_CORRECT_M)
    code.add_data(data)
    code.make(fit=True)
    matrix = code.get_matrix()

    assert (info["greyscale"], info["bitdepth"]) == (True, 1)
    assert width == height == len(matrix) * PNG_MODULE_PIXELS
    drawn = [
        [
            pixels[y * PNG_MODULE_PIXELS + dy][x * PNG_MODULE_PIXELS + dx] == 0
            for dy in range(8)
            for dx in range(8)
        ]
        for y in range(len(matrix))
        for x in range(len(matrix))
    ]
    expected = [[dark] * 64 for row in matrix for dark in row]
    assert drawn == expected
    # A quiet zone of two light modules all round.
    assert not any(matrix[0]) and not any(row[0] for row in matrix)
