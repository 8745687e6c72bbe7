process MOTIFS {
    tag "${batch_id}"
    label 'process_gpu'

    input:
    // A phase-2 batch: its genes' haplotypes, ISM tables and TSS saturation ISM, and the drivers and
    // statistics ATTRIBUTION_STATS wrote for it
    tuple val(batch_id), path(haplotypes), path(ism), path(drivers), path(genes)
    path model_file         // torch weights (fast ISM), or the .onnx file when there are none; [] for 'oracle'
    path hparams_file       // [] unless hparams names a JSON file
    path finetuned_weights  // [] when not given; several with tissues (named finetuned:<stem>)
    path track_names        // [] when not given
    val model_args          // the plan's flags (seqgx plan): backend, readouts, ISM method, a named model

    output:
    path "motifs/${batch_id}.driver_motifs.tsv",        emit: driver_motifs
    path "motifs/${batch_id}.{seqlets,motif_snvs}.tsv", emit: tables   // read beside driver_motifs
    path "motifs/${batch_id}.motifs.json",              emit: info     // the model cost
    path 'motifs/*.driver_ism.npz', optional: true,     emit: driver_ism
    path 'versions.yml',                                emit: versions

    script:
    def args     = task.ext.args ?: ''   // the parameters passed as they are (conf/modules.config, generated from the registry)
    def model    = model_file ? "--model ${model_file}" : ''
    def hparams  = hparams_file ? "--hparams ${hparams_file}" : ''
    def weights  = finetuned_weights ? "--finetuned-weights ${finetuned_weights}" : ''
    def names    = track_names ? "--track-names ${track_names}" : ''
    """
    seqgx motifs \\
        --haplotypes ${haplotypes} ${model} ${hparams} ${weights} ${names} ${model_args} ${args} \\
        --ism ${ism} --drivers ${drivers} --genes ${genes} \\
        --batch-name ${batch_id} --threads ${task.cpus} --out motifs

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        seqgx: \$(seqgx --version | sed 's/seqgx //')
        memelite: \$(python -c 'import importlib.metadata as m; print(m.version("memelite"))')
        pyjaspar: \$(python -c 'import importlib.metadata as m; print(m.version("pyjaspar"))')
    END_VERSIONS
    """

    stub:
    """
    mkdir -p motifs
    touch motifs/${batch_id}.driver_motifs.tsv motifs/${batch_id}.seqlets.tsv motifs/${batch_id}.motif_snvs.tsv
    echo '{}' > motifs/${batch_id}.motifs.json
    printf '"%s":\\n    seqgx: stub\\n' "${task.process}" > versions.yml
    """
}
