using System.Text;

namespace Pipeline.Preprocessing.Formats;

/// <summary>
/// Reads each byte sequence that is not UTF-8 as U+FFFD, as <see cref="DecoderFallback.ReplacementFallback"/> does, and
/// counts them, so a reader can tell a file with a few bad bytes from one in another encoding.
/// </summary>
internal sealed class CountingReplacementFallback : DecoderFallback
{
    public long Count { get; private set; }

    public override int MaxCharCount => 1;

    /// <summary>UTF-8 (a BOM is skipped by the reader) with this fallback.</summary>
    public Encoding Utf8()
    {
        var encoding = (Encoding)new UTF8Encoding(encoderShouldEmitUTF8Identifier: false).Clone();
        encoding.DecoderFallback = this;
        return encoding;
    }

    public override DecoderFallbackBuffer CreateFallbackBuffer() => new Buffer(this);

    private sealed class Buffer(CountingReplacementFallback owner) : DecoderFallbackBuffer
    {
        private int _remaining;

        public override int Remaining => _remaining;

        public override bool Fallback(byte[] bytesUnknown, int index)
        {
            owner.Count++;
            _remaining = 1;
            return true;
        }

        public override char GetNextChar()
        {
            if (_remaining == 0)
            {
                return '\0';
            }

            _remaining--;
            return '\uFFFD';
        }

        public override bool MovePrevious()
        {
            if (_remaining == 1)
            {
                return false;
            }

            _remaining++;
            return true;
        }

        public override void Reset() => _remaining = 0;
    }
}
