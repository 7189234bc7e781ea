namespace Pipeline.Preprocessing;

/// <summary>
/// Local work files are created new, never truncated: ext4 (auto_da_alloc) writes a file that was truncated to zero to
/// disk when it is closed, which made closing a 700 MB spill take half a second and each Parquet split a tenth; a new
/// file is left to the page cache like any other.
/// </summary>
internal static class LocalFile
{
    public static FileStream Create(string path, FileAccess access, FileOptions options = FileOptions.None)
    {
        File.Delete(path);
        return new FileStream(path, FileMode.CreateNew, access, FileShare.None, 1 << 16, options);
    }
}
