using Pipeline.Functions;

var builder = WebApplication.CreateSlimBuilder(args);
builder.AddFunctionsApp();

var app = builder.Build();
app.MapFunctionsApp();
app.Run();

/// <summary>Entry point; public for WebApplicationFactory in tests.</summary>
public partial class Program;
