import io

import qrcode
import qrcode.image.pure
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


def qr_png(data: str) -> bytes:
    """The same QR code as a PNG (for email clients, which do not show SVG)."""
    image = qrcode.make(
        data,
        image_factory=qrcode.image.pure.PyPNGImage,
        box_size=8,
        border=2,
        error_correction=qrcode.constants.ERROR_CORRECT_M,
    )
    buffer = io.BytesIO()
    image.save(buffer)
    return buffer.getvalue()
