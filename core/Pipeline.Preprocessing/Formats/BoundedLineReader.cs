using System.Text;

namespace Pipeline.Preprocessing.Formats;

/// <summary>
/// Lines of a text, as <see cref="TextReader.ReadLine"/> splits them (LF, CRLF or CR), with a bound on a line's length:
/// a file without line breaks is rejected at the bound instead of being read into one string as long as the file.
/// </summary>
public sealed class BoundedLineReader(TextReader reader, int maxChars, string reason)
{
    private readonly char[] _buffer = new char[1 << 16];
    private readonly StringBuilder _line = new();
    private int _start;
    private int _end;
    private bool _ended;
    private bool _afterCarriageReturn;

    /// <summary>The next line (null at the end); <paramref name="lineNumber"/> names it if it is too long.</summary>
    public string? ReadLine(long lineNumber)
    {
        _line.Clear();
        var started = false;
        while (true)
        {
            if (_start == _end)
            {
                if (_ended || (_end = reader.Read(_buffer, 0, _buffer.Length)) == 0)
                {
                    _ended = true;
                    _start = _end = 0;
                    return started ? _line.ToString() : null;
                }

                _start = 0;
            }

            if (_afterCarriageReturn)
            {
                // CRLF split across two reads: the LF belongs to the line that ended.
                _afterCarriageReturn = false;
                if (_buffer[_start] == '\n')
                {
                    _start++;
                    continue;
                }
            }

            started = true;
            var rest = _buffer.AsSpan(_start, _end - _start);
            var at = rest.IndexOfAny('\r', '\n');
            Append(at < 0 ? rest : rest[..at], lineNumber);
            if (at < 0)
            {
                _start = _end;
                continue;
            }

            _start += at + 1;
            if (rest[at] == '\r')
            {
                if (_start < _end)
                {
                    _start += _buffer[_start] == '\n' ? 1 : 0;
                }
                else
                {
                    _afterCarriageReturn = true;
                }
            }

            return _line.ToString();
        }
    }

    private void Append(ReadOnlySpan<char> text, long lineNumber)
    {
        if (_line.Length + text.Length > maxChars)
        {
            throw new DatasetRejectedException(reason, $"Line {lineNumber} is longer than {maxChars / 1024 / 1024} M characters (is the file one object per line?).", (int)Math.Min(lineNumber, int.MaxValue));
        }

        _line.Append(text);
    }
}
