using Microsoft.AspNetCore.Http.HttpResults;
using Pipeline.Contracts;
using Pipeline.Storage;

namespace Pipeline.Serving.Predict;

/// <summary>
/// The HTTP functions <c>ModelVersion</c> (<c>GET /api/models/{name}/versions/{version}</c>: the version's manifest, with
/// its search, quantization and promotion reports) and <c>ModelReportFile</c>
/// (<c>GET /api/models/{name}/versions/{version}/files/{file}</c>: <c>report.md</c> and the <c>report-*.png</c> plots the
/// trainer publishes). Both read the model store, so they work with a models folder (<c>Models:Path</c>) too.
/// </summary>
public static class ModelReportApi
{
    public static IEndpointRouteBuilder MapModelReportApi(this IEndpointRouteBuilder app)
    {
        var versions = app.MapGroup("/api/models/{name}/versions/{version}");
        versions.MapGet("/", GetVersionAsync);
        versions.MapGet("/files/{file}", GetFileAsync);
        return app;
    }

    private static async Task<Results<JsonHttpResult<ModelManifest>, ProblemHttpResult>> GetVersionAsync(string name, string version, ModelCatalog catalog, CancellationToken cancellationToken)
    {
        if (!StorageNames.IsValidName(name) || !StorageNames.IsValidVersion(version))
        {
            return NoManifest(name, version);
        }

        var manifest = await catalog.GetVersionManifestAsync(name, version, cancellationToken);
        return manifest is null ? NoManifest(name, version) : TypedResults.Json(manifest, PipelineJson.Default.ModelManifest);
    }

    private static async Task<Results<FileContentHttpResult, ProblemHttpResult>> GetFileAsync(string name, string version, string file, ModelCatalog catalog, CancellationToken cancellationToken)
    {
        if (!StorageNames.IsValidName(name) || !StorageNames.IsValidVersion(version) || ContentTypeOf(file) is not { } contentType)
        {
            return FileNotFound(name, version, file);
        }

        try
        {
            var content = await catalog.GetReportFileAsync(name, version, file, cancellationToken);
            return content is null ? FileNotFound(name, version, file) : TypedResults.File(content, contentType);
        }
        catch (InvalidDataException e)
        {
            return TypedResults.Problem(e.Message, statusCode: StatusCodes.Status502BadGateway, title: "Report file too large");
        }
    }

    /// <summary>Only the training report's files are served: <c>report.md</c> and <c>report-{name}.png</c>.</summary>
    internal static string? ContentTypeOf(string file) => file switch
    {
        "report.md" => "text/markdown; charset=utf-8",
        _ when file.Length <= 64 && file.StartsWith("report-", StringComparison.Ordinal) && file.EndsWith(".png", StringComparison.Ordinal)
            && file[7..^4].All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-') && file.Length > 11 => "image/png",
        _ => null,
    };

    private static ProblemHttpResult NoManifest(string name, string version) =>
        TypedResults.Problem($"Model '{Truncate(name)}' has no version '{Truncate(version)}' with a manifest (a bring-your-own ONNX version has none). GET /api/models/{{name}} lists its versions.",
            statusCode: StatusCodes.Status404NotFound, title: "Version not found");

    private static ProblemHttpResult FileNotFound(string name, string version, string file) =>
        TypedResults.Problem($"Model '{Truncate(name)}' version '{Truncate(version)}' has no report file '{Truncate(file)}'; its manifest's 'report' lists the files (report.md, report-*.png).",
            statusCode: StatusCodes.Status404NotFound, title: "Report file not found");

    private static string Truncate(string value) => value.Length <= 64 ? value : value[..64] + "…";
}
