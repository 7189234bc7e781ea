namespace Pipeline.Preprocessing.Formats;

/// <summary>
/// Reads a file's next block on another thread while the caller works on the current one (two blocks in turn): reading,
/// decoding and splitting records overlaps the per-column work. The block returned stays valid until the next call.
/// </summary>
internal sealed class BlockReadAhead(TabularReader reader, CancellationToken cancellationToken) : IAsyncDisposable
{
    private readonly RowBlock[] _blocks = [new(), new()];
    private Task<bool>? _reading;
    private int _current;

    public TabularReader Reader => reader;

    /// <summary>The next block, or null at the end of the file.</summary>
    public async Task<RowBlock?> NextAsync()
    {
        _reading ??= Read(_current);
        var filled = await _reading.ConfigureAwait(false);
        var block = _blocks[_current];
        if (!filled)
        {
            return null;
        }

        _current ^= 1;
        _reading = Read(_current);
        return block;
    }

    private Task<bool> Read(int index) => Task.Run(() => reader.ReadBlock(_blocks[index], cancellationToken), cancellationToken);

    public async ValueTask DisposeAsync()
    {
        if (_reading is not null)
        {
            try
            {
                await _reading.ConfigureAwait(false);
            }
            catch (Exception)
            {
                // The caller is leaving (it failed or stopped early): what the read-ahead hit no longer matters.
            }
        }

        reader.Dispose();
    }
}
