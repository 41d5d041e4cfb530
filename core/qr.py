import io

import png
import qrcode
import qrcode.image.svg


def qr_svg(data: str) -> bytes:
    """A QR code as a standalone SVG document, made on the server."""
    image = qrcode.make(
        data,
        image_factory=qrcode.image.svg.SvgPathFillImage,
        box_size=10,
        border=2,
        error_correction=qrcode.constants.ERROR_CORRECT_M,
    )
    return image.to_string(encoding="unicode").encode()


# In the PNG a module is 8 pixels wide, which in a 1-bit image is exactly one byte.
PNG_MODULE_PIXELS = 8


def qr_png(data: str) -> bytes:
    """The same QR code as a PNG (for email clients, which do not show SVG): 1-bit greyscale,
    each row packed straight from the module matrix (a module is one byte: 0x00 dark, 0xFF
    light), which is what keeps it cheap enough to make for every ready message."""
    code = qrcode.QRCode(
        box_size=PNG_MODULE_PIXELS, border=2, error_correction=qrcode.constants.ERROR_CORRECT_M
    )
    code.add_data(data)
    code.make(fit=True)
    matrix = code.get_matrix()
    rows = []
    for modules in matrix:
        row = bytes(0x00 if dark else 0xFF for dark in modules)
        rows.extend([row] * PNG_MODULE_PIXELS)
    side = len(matrix) * PNG_MODULE_PIXELS
    buffer = io.BytesIO()
    png.Writer(width=side, height=side, greyscale=True, bitdepth=1).write_packed(buffer, rows)
    return buffer.getvalue()
