namespace Pipeline.Serving;

/// <summary>
/// Entry point of the serving app. An explicit class (not top-level statements) so the functions app keeps the global
/// <c>Program</c>, and tests use <c>WebApplicationFactory&lt;ServingApp&gt;</c>.
/// </summary>
public sealed class ServingApp
{
    private ServingApp()
    {
    }

    public static void Main(string[] args)
    {
        var builder = WebApplication.CreateSlimBuilder(args);
        builder.AddServingApp();

        var app = builder.Build();
        app.MapServingApp();
        app.Run();
    }
}
